import type { z } from 'zod';
import type { CreateRefundRequest, WechatPayRefund } from './wechat-pay.client';
import { NOT_ENOUGH_RETRY_MS, RefundDeferredError, ResponseVerificationError, toHubError, type WechatPayErrorBody } from './wechat-pay.errors';
import { refundSchema } from './wechat-pay.schemas';

/** What the refund calls need of the live client: its signed requests and its verify-then-parse step. */
export interface RefundTransport<R extends { status: number; body: Buffer }> {
  request(method: 'GET' | 'POST', pathAndQuery: string, body?: string): Promise<R>;
  verifiedJson<S extends z.ZodType>(res: R, schema: S, what: string): z.output<S>;
  errorBody(res: R): WechatPayErrorBody | null;
  now(): Date;
}

const REFUNDS_PATH = '/v3/refund/domestic/refunds';

/** `POST /v3/refund/domestic/refunds` and `GET …/{out_refund_no}` for LiveWechatPayClient. */
export class LiveRefunds<R extends { status: number; body: Buffer }> {
  constructor(private readonly transport: RefundTransport<R>) {}

  async create(request: CreateRefundRequest): Promise<WechatPayRefund> {
    // Built field by field: exactly these bytes are signed and sent, nothing a caller added rides along.
    const body = JSON.stringify({
      out_trade_no: request.out_trade_no,
      out_refund_no: request.out_refund_no,
      ...(request.reason !== undefined ? { reason: request.reason } : {}),
      ...(request.notify_url !== undefined ? { notify_url: request.notify_url } : {}),
      amount: { refund: request.amount.refund, total: request.amount.total, currency: request.amount.currency },
    });
    const res = await this.transport.request('POST', REFUNDS_PATH, body);
    if (res.status < 200 || res.status >= 300) {
      const error = this.transport.errorBody(res);
      if (error?.code === 'NOT_ENOUGH') {
        throw new RefundDeferredError(this.transport.now().getTime() + NOT_ENOUGH_RETRY_MS, error.message ?? 'balance too low');
      }
      throw toHubError(res.status, error);
    }
    return this.checked(this.transport.verifiedJson(res, refundSchema, 'refund create'), request.out_refund_no);
  }

  async query(outRefundNo: string): Promise<WechatPayRefund | null> {
    const res = await this.transport.request('GET', `${REFUNDS_PATH}/${encodeURIComponent(outRefundNo)}`);
    if (res.status === 404 && this.transport.errorBody(res)?.code === 'RESOURCE_NOT_EXISTS') return null;
    return this.checked(this.transport.verifiedJson(res, refundSchema, 'refund query'), outRefundNo);
  }

  /** A signed answer about another refund is still not an answer about this one. */
  private checked(data: z.output<typeof refundSchema>, outRefundNo: string): WechatPayRefund {
    if (data.out_refund_no !== outRefundNo) throw new ResponseVerificationError(`refund ${outRefundNo} answered ${data.out_refund_no}`);
    return data as WechatPayRefund;
  }
}
