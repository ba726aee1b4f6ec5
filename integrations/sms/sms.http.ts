import { isAxiosError, type AxiosInstance } from 'axios';
import { RetryableError } from '../../lib/errors';
import { SmsOutcomeUnknownError } from './sms.errors';

/** The one HTTP seam both SMS clients share: raw text in and out, no axios retries, no status throwing. */

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export async function exchange(
  http: AxiosInstance,
  o: { method: 'POST'; url: string; headers: Record<string, string>; body: string; vendor: string },
): Promise<RawAnswer> {
  try {
    const res = await http.request<string>({
      method: o.method,
      url: o.url,
      headers: o.headers,
      data: o.body,
      responseType: 'text',
      // The signed bytes are the sent bytes: nothing may re-serialise the body.
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers as Record<string, unknown>)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    return { status: res.status, headers, text: typeof res.data === 'string' ? res.data : '' };
  } catch (err) {
    // Once the request may have reached the vendor, a lost answer means "maybe sent".
    const code = isAxiosError(err) ? err.code : undefined;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      throw new RetryableError(`${o.vendor} unreachable (${code})`, { cause: err });
    }
    throw new SmsOutcomeUnknownError(`${o.vendor} answer lost (${code ?? 'network error'}): the message may have been sent`, { cause: err });
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Mainland numbers in any accepted spelling (`+86`, `0086`, `86`, bare) → `+86` + 11 digits; others unchanged. */
export function e164(phone: string): string {
  const m = /^(?:\+86|0086|86)?(1\d{10})$/.exec(phone.trim());
  return m ? `+86${m[1]}` : phone.trim();
}
