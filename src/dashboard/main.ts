// Entry: sign-in with an admin token (kept in this tab's sessionStorage), then the live view and the policy editor.
import { Api, ApiError, type Role } from './api.ts';
import { byId } from './dom.ts';
import { LiveView } from './live-view.ts';
import { PolicyEditor } from './policy-editor.ts';
import './styles.css';

const TOKEN_KEY = 'paypath.adminToken';

function notify(message: string, tone: 'ok' | 'bad'): void {
  const toast = byId('toast');
  toast.textContent = message;
  toast.dataset.tone = tone;
  toast.hidden = false;
}

async function signIn(token: string): Promise<{ api: Api; name: string; role: Role }> {
  const api = new Api(token);
  const session = await api.session();
  return { api, ...session };
}

function showSignIn(message?: string): void {
  byId('app').hidden = true;
  byId('sign-in').hidden = false;
  byId('sign-in-error').textContent = message ?? '';
  byId<HTMLInputElement>('token').focus();
}

async function start(token: string): Promise<void> {
  let session: Awaited<ReturnType<typeof signIn>>;
  try {
    session = await signIn(token);
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(
      error instanceof ApiError && error.status === 401
        ? `Token not accepted: ${error.message}.`
        : `Cannot sign in: ${(error as Error).message}`,
    );
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const canOperate = session.role === 'operator';
  document.body.dataset.role = session.role;
  byId('sign-in').hidden = true;
  byId('app').hidden = false;
  byId('who').textContent = `${session.name} · ${session.role}${canOperate ? '' : ' (read-only)'}`;

  const editor = new PolicyEditor({ api: session.api, canOperate, notify });
  const live = new LiveView({
    api: session.api,
    canOperate,
    notify,
    onStatus: (status) => editor.onStatus(status),
  });
  live.start();
  try {
    await editor.load();
  } catch (error) {
    notify(`cannot load the policy: ${(error as Error).message}`, 'bad');
  }
}

byId('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = byId<HTMLInputElement>('token').value.trim();
  if (token !== '') void start(token);
});
byId('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});
byId('toast').addEventListener('click', () => {
  byId('toast').hidden = true;
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void start(saved);
else showSignIn();
