// careloop passkeys: the only script of the pages. It runs the browser's
// WebAuthn API for the buttons marked data-passkey-*; everything else works
// without it. The server sends and takes the standard JSON forms of the
// options and credentials. Its words come from the page, in the reader's
// language: the attributes data-msg-cancelled, data-msg-failed and
// data-msg-org of each data-passkey box (English when a page has none).
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
    return; // the passkey parts stay hidden
  }
  document.documentElement.classList.add('has-js');

  // words returns the message name of the box of button, as the page
  // says it.
  const english = {
    cancelled: 'The passkey was not used. You can try again.',
    failed: 'Something went wrong. Please try again.',
    org: 'Enter your organisation first.',
  };
  function words(button, name) {
    const box = button.closest('[data-passkey]');
    const key = 'msg' + name.charAt(0).toUpperCase() + name.slice(1);
    return (box && box.dataset[key]) || english[name];
  }

  async function post(url, body, button) {
    const resp = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body || {}),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      throw new Error((data.error && data.error.message) || words(button, 'failed'));
    }
    return data;
  }

  function status(button, message) {
    const box = button.closest('[data-passkey]');
    const out = box && box.querySelector('[data-passkey-status]');
    if (out) { out.textContent = message; }
  }

  function cancelled(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'AbortError');
  }

  function run(button, work) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      status(button, '');
      try {
        await work();
      } catch (err) {
        status(button, cancelled(err) ? words(button, 'cancelled') : (err.message || words(button, 'failed')));
        button.disabled = false;
      }
    });
  }

  async function getCredential(publicKey) {
    const options = PublicKeyCredential.parseRequestOptionsFromJSON(publicKey);
    const cred = await navigator.credentials.get({ publicKey: options });
    return cred.toJSON();
  }

  document.querySelectorAll('[data-passkey-signin]').forEach((button) => run(button, async () => {
    const orgField = document.getElementById('org');
    const org = orgField ? orgField.value.trim() : '';
    if (!org) { throw new Error(words(button, 'org')); }
    const begun = await post('/auth/passkeys/signin/begin', { org: org }, button);
    const credential = await getCredential(begun.publicKey);
    const done = await post('/auth/passkeys/signin/finish', { org: org, credential: credential }, button);
    if (done.stage === 'factor') { location.assign('/signin/factor'); }
    else if (done.must_enroll) { location.assign('/account/security'); }
    // The sign-in page sends a signed-in person on: to the page it was
    // asked for (next), else to their landing page (/home or /account).
    else { location.assign('/signin' + location.search); }
  }));

  document.querySelectorAll('[data-passkey-factor]').forEach((button) => run(button, async () => {
    const begun = await post('/signin/factor/passkey/begin', {}, button);
    const credential = await getCredential(begun.publicKey);
    const done = await post('/signin/factor/passkey/finish', { credential: credential }, button);
    location.assign(done.redirect || '/account');
  }));

  document.querySelectorAll('[data-passkey-register]').forEach((button) => run(button, async () => {
    const nameField = document.getElementById('passkey-name');
    const begun = await post('/auth/passkeys/register/begin', {}, button);
    const options = PublicKeyCredential.parseCreationOptionsFromJSON(begun.publicKey);
    const cred = await navigator.credentials.create({ publicKey: options });
    await post('/auth/passkeys/register/finish', { name: nameField ? nameField.value.trim() : '', credential: cred.toJSON() }, button);
    location.assign('/account/security');
  }));
})();
