import axios, { type AxiosInstance } from 'axios';

/**
 * An HTTP client for vendors whose answers the live client reads itself: the body as text (JSON
 * numbers past 2^53, such as WeChat's msgid, would be rounded by a parser first), every status
 * handed back to be classified by the system's *.errors.ts, no redirect followed, and no proxy
 * taken from the environment.
 */
export function textHttpClient(o: { baseUrl: string; timeoutMs: number }): AxiosInstance {
  return axios.create({
    baseURL: new URL(o.baseUrl).origin,
    timeout: o.timeoutMs,
    responseType: 'text',
    transformResponse: [(text: unknown) => text],
    validateStatus: () => true,
    maxRedirects: 0,
    proxy: false,
  });
}
