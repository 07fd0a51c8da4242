// Cluster mode: the gateway asks identity whether an API key is valid (identity owns the keys).
import { signInternalContext } from '@mauntic/platform';
import type { ApiKeyPrincipal, ApiKeyVerifier } from './auth.ts';

export function httpApiKeyVerifier(identityInternalUrl: string, internalKey: Uint8Array): ApiKeyVerifier {
  const url = new URL('/internal/api-keys/verify', identityInternalUrl).toString();
  return async (key) => {
    const token = signInternalContext(
      { correlationId: 'gateway', actor: { type: 'system', id: 'gateway' }, scopes: [] },
      internalKey,
    );
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mauntic-context': token },
      body: JSON.stringify({ key }),
    });
    if (!response.ok) throw new Error(`identity answered ${response.status} to an API-key check`);
    const body = (await response.json()) as { principal: ApiKeyPrincipal | null };
    return body.principal;
  };
}
