import { request as httpsRequest, type RequestOptions } from 'node:https';

export const https_get_limits = {
  timeout_ms: 10_000,
} as const;

/**
 * GET over https with the given TLS options (CA, client certificate) and headers, for tests:
 * fetch() takes no CA in Node 20. Answers the status and the body as text.
 */
export function httpsGet(url: string, options: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'headers'>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { ...options, signal: AbortSignal.timeout(https_get_limits.timeout_ms) }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}
