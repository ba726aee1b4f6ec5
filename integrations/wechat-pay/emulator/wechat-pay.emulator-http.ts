import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DROP_CONNECTION, type EmulatorAnswer, type EmulatorRequest } from '../../emulator-server';
import { certificatePem, encryptResource, gatewayErrorPage, requestId, signatureHeaders } from './wechat-pay.emulator-auth';
import { rfc3339Beijing, signingKey, VendorError, type EmulatedMerchant } from './wechat-pay.emulator-state';

/** How the WeChat Pay emulator answers: signed JSON, gateway HTML pages, answers dropped after the work is done. */

export type Reply = EmulatorAnswer | typeof DROP_CONNECTION;

export interface Ctx {
  request: EmulatorRequest;
  merchant?: EmulatedMerchant;
  badSignature: boolean;
  /** `drop-after-commit`: the work is done, then the connection is closed instead of answered. */
  drop: boolean;
}

let wrongKey: KeyObject | undefined;

/** A key no merchant knows, for `bad-signature`. */
function strangerKey(): KeyObject {
  wrongKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  return wrongKey;
}

/** A JSON answer (or 204), signed by the merchant's platform key, or by a stranger's under `bad-signature`. */
export function replyJson(ctx: Ctx, status: number, body: object | undefined): Reply {
  if (ctx.drop) return DROP_CONNECTION;
  const text = body === undefined ? '' : JSON.stringify(body);
  const code = body && 'code' in body ? String((body as { code: unknown }).code) : undefined;
  const headers: Record<string, string> = { 'Request-ID': requestId(code) };
  if (text) headers['Content-Type'] = 'application/json; charset=utf-8';
  if (ctx.merchant) {
    const requested = ctx.request.headers['wechatpay-serial'];
    const key = signingKey(ctx.merchant, typeof requested === 'string' ? requested : undefined);
    Object.assign(headers, signatureHeaders(key.serial, ctx.badSignature ? strangerKey() : key.privateKey, text, Math.floor(Date.now() / 1000)));
  }
  return { status, headers, ...(text ? { body: text } : {}) };
}

/** What a gateway in front of WeChat answers: an HTML page, unsigned. */
export function replyHtml(ctx: Ctx, status: number): Reply {
  if (ctx.drop) return DROP_CONNECTION;
  return { status, headers: { 'Content-Type': 'text/html', 'Request-ID': requestId() }, body: gatewayErrorPage(status) };
}

/** `GET /v3/certificates`: the encrypted certificate list; public-key merchants have none (404). */
export function certificatesJson(merchant: EmulatedMerchant | undefined): object {
  if (!merchant || merchant.keyMode === 'public_key') {
    throw new VendorError(404, 'RESOURCE_NOT_EXISTS', '无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/doc/v3/merchant/4012153196');
  }
  const cert = merchant.certificate;
  const encrypt_certificate = encryptResource(merchant.apiV3Key, certificatePem(cert.certificateDer as Buffer), 'certificate');
  return { data: [{ serial_no: cert.serial, effective_time: rfc3339Beijing(cert.notBefore), expire_time: rfc3339Beijing(cert.notAfter), encrypt_certificate }] };
}

/** A percent-decoded path segment; a malformed escape is the caller's error, not ours. */
export function pathSegment(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? '');
  } catch {
    throw new VendorError(400, 'PARAM_ERROR', '路径参数格式错误');
  }
}
