// The page's credentials: a short-lived token from POST /demo/session (same origin only).
// No key ever reaches the page; the token is renewed before it expires.

let current = null;

export async function demoSession(renew = false) {
  const now = Date.now() / 1000;
  if (!renew && current && current.expires_at - 30 > now) return current;
  const response = await fetch("/demo/session", { method: "POST", credentials: "same-origin" });
  if (!response.ok) throw new Error(await errorText(response));
  current = await response.json();
  return current;
}

// fetch() with the demo token as Authorization: Bearer; a 401 renews the token once.
export async function api(path, init = {}) {
  for (const renew of [false, true]) {
    const { token } = await demoSession(renew);
    const headers = new Headers(init.headers || {});
    headers.set("Authorization", `Bearer ${token}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401 || renew) return response;
  }
}

// The message of an error answer (the reference's JSON envelope, or the status line).
export async function errorText(response) {
  try {
    const body = await response.json();
    const error = body.error || body;
    return `${response.status}: ${error.message || JSON.stringify(error)}`;
  } catch (error) {
    return `${response.status} ${response.statusText}`;
  }
}
