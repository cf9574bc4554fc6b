// admin/password.js: the one-time password of a new user or console
// device, or of a user's new password, shown once in #password-dialog (a
// modal dialog). Closing it ("Done" or Escape) takes the password out of
// the page; it is never stored (no sessionStorage, no cache).

const $ = (id) => document.getElementById(id);

export function showPassword(username, password) {
  const dialog = $('password-dialog');
  $('password-user').textContent = username || '';
  $('password-value').textContent = password;
  if (!dialog.open) dialog.showModal();
  $('password-done').focus();
}

export function setupPassword() {
  const dialog = $('password-dialog');
  $('password-done').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    $('password-value').textContent = '';
    $('password-user').textContent = '';
  });
}
