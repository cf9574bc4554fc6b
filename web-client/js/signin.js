// signin.js: index.html. POST /api/login (which sets the refresh cookie),
// and go to the page for the user's role.

import { homeFor, clearSession } from './session.js';

const REASONS = {
  auth_expired: 'Your session has expired. Sign in again.',
  auth_invalid: 'Your session is no longer valid. Sign in again.',
  auth_missing: 'Sign in to continue.',
  auth_required: 'Sign in to continue.',
  auth_timeout: 'The connection timed out while signing in. Sign in again.',
  auth: 'Your session ended. Sign in again.',
};

const form = document.getElementById('signin-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const button = document.getElementById('signin');
const errorBox = document.getElementById('signin-error');
const notice = document.getElementById('signin-notice');

function showError(message) {
  errorBox.textContent = message || '';
  errorBox.hidden = !message;
}

const reason = new URLSearchParams(location.search).get('reason');
if (reason) {
  notice.textContent = REASONS[reason] || REASONS.auth;
  notice.hidden = false;
}

async function signIn(ev) {
  ev.preventDefault();
  showError('');
  const user = username.value.trim();
  const pass = password.value;
  if (!user || !pass) {
    showError(!user ? 'Enter your username.' : 'Enter your password.');
    (!user ? username : password).focus();
    return;
  }

  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    let res;
    try {
      res = await fetch('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username: user, password: pass }),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      showError('Cannot reach the Tocsin server. Check the network and try again.');
      return;
    }

    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }

    if (!res.ok) {
      const err = body && body.error;
      let msg = err && err.message ? err.message : `Sign-in failed (HTTP ${res.status}).`;
      if (res.status === 503 || (err && err.code === 'busy')) {
        msg = `${err && err.message ? err.message : 'The server is busy'} — please try again in a moment.`;
      }
      showError(msg);
      password.select();
      password.focus();
      return;
    }

    if (!body || typeof body.token !== 'string' || !body.user) {
      showError('The server sent an unexpected answer.');
      return;
    }
    const home = homeFor(body.user.role);
    if (!home) {
      clearSession();
      showError(`This console has no page for the role “${body.user.role}”.`);
      return;
    }
    // The token is not kept: the page for the role gets its own from the
    // refresh cookie this answer set (js/session.js, requireSession).
    clearSession();
    location.replace(home);
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

form.addEventListener('submit', signIn);
