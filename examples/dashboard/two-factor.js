// Two-factor authentication in the demo dashboard: the second sign-in step (a code from
// the authenticator app or a backup code, with "trust this device"), and the security
// settings (turn on with a QR code, backup codes shown once, regenerate, replace the
// authenticator, turn off).
//
// `api` is what app.js shares: { gql, run, flash, refresh, here }; `guarded` runs an
// action behind the step-up prompt (settings.js).

const $ = (id) => document.getElementById(id);

// --- The second sign-in step ----------------------------------------------------------
// latch keeps the pending sign-in in its `two_factor_ticket` cookie (HttpOnly), so the
// page never handles the ticket: it only sends the code.
export function showSecondStep(methods) {
  $('sign-in').hidden = true;
  $('providers').hidden = true;
  $('second-step').hidden = false;
  $('second-step-backup').hidden = !(methods || ['backup-code']).includes('backup-code');
  $('second-step').elements.code.focus();
}

export function hideSecondStep() {
  $('second-step').reset();
  $('second-step').hidden = true;
  $('sign-in').hidden = false;
  $('providers').hidden = false;
}

const VERIFY = 'mutation($i: VerifyTwoFactorInput!) { verifyTwoFactor(input: $i) { backupCodesRemaining } }';

export function setupSecondStep(api) {
  $('second-step').onsubmit = (e) => {
    e.preventDefault();
    const form = e.target;
    api.run(async () => {
      const code = form.elements.code.value;
      const trustDevice = form.elements.trustDevice.checked;
      const { verifyTwoFactor } = await api.gql(VERIFY, { i: { code, trustDevice } });
      hideSecondStep();
      const left = verifyTwoFactor.backupCodesRemaining;
      api.flash(left === null
        ? 'Signed in.'
        : `Signed in with a backup code. ${left} backup code${left === 1 ? '' : 's'} left: make new ones in Settings when you run low.`);
      await api.refresh();
    });
  };
  $('second-step-cancel').onclick = () => api.run(async () => {
    await api.gql('mutation { logout }'); // voids the pending sign-in
    hideSecondStep();
  });
}

// --- Security settings -----------------------------------------------------------------
const STATUS = '{ twoFactorStatus { enabled methods backupCodesRemaining pendingEnrollment } }';

// The secret in groups of four, as authenticator apps print it, for typing by hand.
function grouped(secret) {
  return secret.match(/.{1,4}/g).join(' ');
}

function showCodes(codes) {
  $('tf-code-list').replaceChildren(...codes.map((c) => {
    const li = document.createElement('li');
    li.textContent = c;
    return li;
  }));
  $('tf-codes').hidden = false;
  const text = `latch backup codes\n\n${codes.join('\n')}\n\nEach code works once.\n`;
  $('tf-copy').onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      $('tf-copy').textContent = 'Copied';
    } catch {
      $('tf-copy').textContent = 'Copy failed: select the codes instead';
    }
  };
  $('tf-download').onclick = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    a.download = 'latch-backup-codes.txt';
    a.click();
    URL.revokeObjectURL(a.href);
  };
}

export function setupTwoFactor(api, guarded) {
  let status = null;

  async function render() {
    ({ twoFactorStatus: status } = await api.gql(STATUS));
    const on = status.enabled;
    $('tf-status').textContent = on
      ? 'On: signing in asks for a code from your authenticator app.'
      : 'Off: signing in needs only your password or provider.';
    $('tf-remaining').hidden = !on;
    $('tf-remaining').textContent = `${status.backupCodesRemaining} unused backup code${status.backupCodesRemaining === 1 ? '' : 's'} left.`;
    $('tf-enable').hidden = on;
    for (const id of ['tf-regenerate', 'tf-replace', 'tf-disable']) $(id).hidden = !on;
  }

  function startEnrollment(replacing) {
    return api.run(async () => {
      const { enrollTotp } = await guarded(() => api.gql(
        'mutation { enrollTotp { secret totpURI qrCode expiresAt } }'));
      $('tf-qr').src = enrollTotp.qrCode;
      $('tf-secret').textContent = grouped(enrollTotp.secret);
      $('tf-enroll-title').textContent = replacing ? 'Set up your new authenticator' : 'Turn on two-factor';
      $('tf-confirm').dataset.replacing = replacing ? '1' : '';
      $('tf-codes').hidden = true;
      $('tf-enroll').hidden = false;
      $('tf-confirm').elements.code.focus();
    });
  }

  $('tf-enable').onclick = () => startEnrollment(false);
  $('tf-replace').onclick = () => startEnrollment(true);
  $('tf-enroll-cancel').onclick = () => {
    $('tf-enroll').hidden = true;
  };
  $('tf-confirm').onsubmit = (e) => {
    e.preventDefault();
    const form = e.target;
    api.run(async () => {
      const { confirmTotp } = await api.gql(
        'mutation($i: ConfirmTotpInput!) { confirmTotp(input: $i) { enabled backupCodes } }',
        { i: { code: form.elements.code.value } });
      form.reset();
      $('tf-enroll').hidden = true;
      if (confirmTotp.backupCodes) {
        showCodes(confirmTotp.backupCodes);
        api.flash('Two-factor authentication is on. Your other devices were signed out.');
      } else {
        api.flash('Your new authenticator is set up; the old one no longer works.');
      }
      await render();
    });
  };
  $('tf-regenerate').onclick = () => api.run(async () => {
    const { generateBackupCodes } = await guarded(() => api.gql(
      'mutation { generateBackupCodes { backupCodes } }'));
    showCodes(generateBackupCodes.backupCodes);
    api.flash('New backup codes are ready; the earlier ones no longer work.');
    await render();
  });
  $('tf-codes-done').onclick = () => {
    $('tf-codes').hidden = true;
    $('tf-code-list').replaceChildren();
  };
  $('tf-disable').onclick = () => {
    if (!window.confirm('Turn off two-factor authentication? Signing in will need only your password.')) return;
    api.run(async () => {
      await guarded(() => api.gql('mutation { disableTwoFactor { status } }'));
      $('tf-codes').hidden = true;
      api.flash('Two-factor authentication is off.');
      await render();
    });
  };

  return {
    render,
    enabled: () => Boolean(status && status.enabled),
  };
}
