// Who is signed in: a bearer token kept in localStorage (the shop and the back office keep
// theirs apart), read for its subject, roles and expiry (the API verifies it; this only shows).

export interface Session {
  token: string;
  subject: string;
  roles: string[];
  expiresAt: number; // unix seconds; 0 when the token says nothing
}

export type Area = "shop" | "admin";
const KEY: Record<Area, string> = { shop: "oms.shop.session", admin: "oms.admin.session" };
type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();

export function decodeToken(token: string): Session | null {
  const parts = token.trim().split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { sub?: unknown; roles?: unknown; exp?: unknown };
    if (typeof claims.sub !== "string" || !claims.sub) return null;
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === "string") : [];
    return { token: token.trim(), subject: claims.sub, roles, expiresAt: typeof claims.exp === "number" ? claims.exp : 0 };
  } catch {
    return null;
  }
}

let area: Area = "shop";

export function useArea(which: Area): void {
  area = which;
}

export function currentSession(): Session | null {
  const token = localStorage.getItem(KEY[area]);
  if (!token) return null;
  const session = decodeToken(token);
  if (!session || (session.expiresAt && session.expiresAt * 1000 < Date.now())) {
    localStorage.removeItem(KEY[area]);
    return null;
  }
  return session;
}

export function signIn(token: string): Session | null {
  const session = decodeToken(token);
  if (!session) return null;
  localStorage.setItem(KEY[area], session.token);
  listeners.forEach((l) => l(session));
  return session;
}

export function signOut(): void {
  localStorage.removeItem(KEY[area]);
  listeners.forEach((l) => l(null));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export interface DevSignInOptions {
  demoCustomers: string[];
  admin: string;
}

/** The development sign-in's options, or null where the gateway has none (outside development). */
export async function devSignInOptions(): Promise<DevSignInOptions | null> {
  try {
    const reply = await fetch("/auth/dev-sign-in", { headers: { Accept: "application/json" } });
    return reply.ok ? ((await reply.json()) as DevSignInOptions) : null;
  } catch {
    return null;
  }
}

export async function devSignIn(request: { role: "customer"; customerId: string } | { role: "admin" }): Promise<Response> {
  return fetch("/auth/dev-sign-in", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
}
