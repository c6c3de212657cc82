// Pieces both pages use: error messages, paged tables, the sign-in form, the page frame.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import {
  currentSession,
  decodeToken,
  devSignIn,
  devSignInOptions,
  onSessionChange,
  signIn,
  signOut,
  type DevSignInOptions,
  type Session,
} from "../api/auth";
import { apiError, asApiError, type ApiError } from "../api/errors";

/** The error of a whole view or action, in words a person can act on. */
export function ErrorNotice({ error, onRetry }: { error: ApiError | null | undefined; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="notice error" role="alert" data-kind={error.kind}>
      <p>{error.humanMessage}</p>
      {error.kind !== "unauthenticated" && error.humanMessage !== error.message && (
        <p class="detail">{error.message}</p>
      )}
      {error.kind === "unauthenticated" && <a href="#/sign-in">Sign in</a>}
      {onRetry && (error.kind === "unavailable" || error.kind === "network" || error.kind === "rate-limited") && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** The API's complaint about one form field, tied to the field by ``id`` (aria-describedby). */
export function FieldError({ id, error, field }: { id: string; error: ApiError | null | undefined; field: string }) {
  const text = error?.forField(field);
  return text ? (
    <span id={id} class="field-error" role="alert">
      {text}
    </span>
  ) : null;
}

export function useSession(): Session | null {
  const [session, setSession] = useState(currentSession());
  useEffect(() => onSessionChange(setSession), []);
  return session;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/** A table's pages, walked with the API's page tokens (previous pages' tokens are remembered). */
export function usePages<T>(load: (pageToken: string) => Promise<Page<T>>, deps: unknown[]) {
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState<Page<T> | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const token = tokens[tokens.length - 1] ?? "";

  useEffect(() => setTokens([""]), deps); // new filters: back to the first page
  useEffect(() => {
    let current = true;
    setLoading(true);
    load(token)
      .then((p) => current && (setPage(p), setError(null)))
      .catch((e: unknown) => current && setError(asApiError(e)))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [token, tick, ...deps]);

  return {
    items: page?.items ?? [],
    error,
    loading,
    pageNumber: tokens.length,
    hasNext: !!page?.nextPageToken,
    hasPrev: tokens.length > 1,
    next: () => page?.nextPageToken && setTokens([...tokens, page.nextPageToken]),
    prev: () => setTokens(tokens.slice(0, -1)),
    reload: useCallback(() => setTick((t) => t + 1), []),
  };
}

export function Pager({ pages, label }: { pages: ReturnType<typeof usePages<unknown>>; label: string }) {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={pages.prev} disabled={!pages.hasPrev}>
        Previous page
      </button>
      <span aria-live="polite">Page {pages.pageNumber}</span>
      <button type="button" onClick={pages.next} disabled={!pages.hasNext}>
        Next page
      </button>
    </nav>
  );
}

/** Signing in: the development sign-in when the gateway offers it, else a provider's token. */
export function SignIn({ admin, onDone }: { admin: boolean; onDone: () => void }) {
  const [options, setOptions] = useState<DevSignInOptions | null | undefined>(undefined);
  const [customerId, setCustomerId] = useState("c-demo-ada");
  const [token, setToken] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [pasteError, setPasteError] = useState("");

  useEffect(() => {
    void devSignInOptions().then(setOptions);
  }, []);

  const dev = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const reply = await devSignIn(admin ? { role: "admin" } : { role: "customer", customerId });
      const body = (await reply.json().catch(() => null)) as { token?: string } | null;
      if (!reply.ok || !body?.token) {
        setError(apiError(reply, body));
        return;
      }
      signIn(body.token);
      onDone();
    } catch (e) {
      setError(asApiError(e));
    }
  };

  const paste = (event: Event) => {
    event.preventDefault();
    const session = decodeToken(token);
    if (!session) {
      setPasteError("This is not a token: paste the whole JWT your identity provider issued.");
      return;
    }
    if (admin && !session.roles.includes("admin")) {
      setPasteError("This token has no 'admin' role.");
      return;
    }
    signIn(session.token);
    onDone();
  };

  return (
    <section aria-labelledby="sign-in-title" class="card narrow">
      <h1 id="sign-in-title">Sign in</h1>
      {options && (
        <form onSubmit={dev} aria-label="Development sign-in">
          <p>Development sign-in: a token for a demo {admin ? "admin" : "customer"}, no password.</p>
          {!admin && (
            <label>
              Customer id
              <input
                name="customerId"
                value={customerId}
                list="demo-customers"
                aria-describedby="customer-id-error"
                onInput={(e) => setCustomerId(e.currentTarget.value)}
              />
              <datalist id="demo-customers">
                {options.demoCustomers.map((c) => (
                  <option key={c} value={c} />
                ))}
              </datalist>
            </label>
          )}
          <FieldError id="customer-id-error" error={error} field="customerId" />
          <button type="submit">{admin ? `Sign in as ${options.admin}` : "Sign in"}</button>
          <ErrorNotice error={error?.fieldViolations.length ? null : error} />
        </form>
      )}
      <form onSubmit={paste} aria-label="Sign in with a token">
        <p>{options ? "Or paste" : "Paste"} a token issued by your identity provider.</p>
        <label>
          Token
          <textarea
            name="token"
            rows={3}
            value={token}
            aria-describedby="token-error"
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        {pasteError && (
          <span id="token-error" class="field-error" role="alert">
            {pasteError}
          </span>
        )}
        <button type="submit">Use this token</button>
      </form>
    </section>
  );
}

export function Frame({
  title,
  nav,
  session,
  children,
}: {
  title: string;
  nav: [string, string][];
  session: Session | null;
  children: ComponentChildren;
}) {
  return (
    <>
      <header class="top">
        <span class="brand">{title}</span>
        <nav aria-label="Main">
          <ul>
            {nav.map(([to, label]) => (
              <li key={to}>
                <a href={to}>{label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {session ? (
            <>
              <span data-testid="signed-in-as">Signed in as {session.subject}</span>
              <button type="button" onClick={signOut}>
                Sign out
              </button>
            </>
          ) : (
            <a href="#/sign-in">Sign in</a>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
