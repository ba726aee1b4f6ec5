import type { z } from 'zod';
import type { CreateRefundRequest, WechatPayRefund } from './wechat-pay.client';
import { isResourceAbsent, refundCreateRefusal, ResponseVerificationError } from './wechat-pay.errors';
import type { WechatPayHttp } from './wechat-pay.live-http';
import { refundSchema } from './wechat-pay.schemas';

const REFUNDS_PATH = '/v3/refund/domestic/refunds';

/** `POST /v3/refund/domestic/refunds` and `GET …/{out_refund_no}` for LiveWechatPayClient. */
export class LiveRefunds {
  constructor(private readonly http: WechatPayHttp) {}

  async create(request: CreateRefundRequest): Promise<WechatPayRefund> {
    // Built field by field: exactly these bytes are signed and sent, nothing a caller added rides along.
    const body = JSON.stringify({
      out_trade_no: request.out_trade_no,
      out_refund_no: request.out_refund_no,
      ...(request.reason !== undefined ? { reason: request.reason } : {}),
      ...(request.notify_url !== undefined ? { notify_url: request.notify_url } : {}),
      amount: { refund: request.amount.refund, total: request.amount.total, currency: request.amount.currency },
    });
    const res = await this.http.request('POST', REFUNDS_PATH, body);
    if (res.status < 200 || res.status >= 300) throw refundCreateRefusal(res.status, res.body, this.http.now());
    return this.checked(this.http.verifiedJson(res, refundSchema, 'refund create'), request.out_refund_no);
  }

  async query(outRefundNo: string): Promise<WechatPayRefund | null> {
    const res = await this.http.request('GET', `${REFUNDS_PATH}/${encodeURIComponent(outRefundNo)}`);
    if (isResourceAbsent(res.status, res.body)) return null;
    return this.checked(this.http.verifiedJson(res, refundSchema, 'refund query'), outRefundNo);
  }

  /** A signed answer about another refund is still not an answer about this one. */
  private checked(data: z.output<typeof refundSchema>, outRefundNo: string): WechatPayRefund {
    if (data.out_refund_no !== outRefundNo) throw new ResponseVerificationError(`refund ${outRefundNo} answered ${data.out_refund_no}`);
    return data as WechatPayRefund;
  }
}
