// AuthView: the sign-in and create-account screen.

import { $ } from './dom.js';

const USERNAME = /^[A-Za-z0-9_.]{3,32}$/;

const TEXT = {
  login: {
    title: 'Welcome back',
    lead: 'Sign in to pick up your conversations where you left them.',
    submit: 'Sign in',
    busy: 'Signing in…',
  },
  register: {
    title: 'Create your account',
    lead: 'Pick a username people will know you by. It takes a few seconds.',
    submit: 'Create account',
    busy: 'Creating your account…',
  },
};

export class AuthView {
  /** onSignedIn is called once the session has tokens. */
  constructor(session, onSignedIn) {
    this.session = session;
    this.onSignedIn = onSignedIn;
    this.mode = 'login';
    this.el = {
      root: $('auth'), form: $('auth-form'), user: $('auth-username'), pass: $('auth-password'),
      remember: $('auth-remember'), error: $('auth-error'), submit: $('auth-submit'),
      title: $('auth-title'), lead: $('auth-lead'), notice: $('auth-notice'),
      tabLogin: $('auth-tab-login'), tabRegister: $('auth-tab-register'),
      userHint: $('auth-username-hint'), passHint: $('auth-password-hint'),
    };
    this.el.tabLogin.addEventListener('click', () => this.setMode('login'));
    this.el.tabRegister.addEventListener('click', () => this.setMode('register'));
    this.el.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  show(notice = '') {
    this.el.root.hidden = false;
    this.el.notice.textContent = notice;
    this.el.notice.hidden = !notice;
    this.el.pass.value = '';
    this.error('');
    this.setMode(this.mode);
    this.el.user.focus();
  }

  hide() {
    this.el.root.hidden = true;
  }

  setMode(mode) {
    this.mode = mode;
    const t = TEXT[mode];
    this.el.title.textContent = t.title;
    this.el.lead.textContent = t.lead;
    this.el.submit.textContent = t.submit;
    this.el.tabLogin.setAttribute('aria-selected', String(mode === 'login'));
    this.el.tabRegister.setAttribute('aria-selected', String(mode === 'register'));
    this.el.pass.autocomplete = mode === 'login' ? 'current-password' : 'new-password';
    this.el.userHint.hidden = mode !== 'register';
    this.el.passHint.hidden = mode !== 'register';
    this.error('');
  }

  error(msg) {
    this.el.error.textContent = msg;
    this.el.error.hidden = !msg;
  }

  async submit() {
    const username = this.el.user.value.trim();
    const password = this.el.pass.value;
    if (!USERNAME.test(username)) {
      this.error('Usernames are 3–32 characters: letters, digits, _ or .');
      this.el.user.focus();
      return;
    }
    if (password.length < 8) {
      this.error('Passwords have at least 8 characters.');
      this.el.pass.focus();
      return;
    }
    const mode = this.mode;
    this.el.submit.disabled = true;
    this.el.submit.textContent = TEXT[mode].busy;
    this.error('');
    let registered = false;
    try {
      if (mode === 'register') {
        await this.session.register(username, password);
        registered = true;
      }
      await this.session.login(username, password, this.el.remember.checked);
    } catch (err) {
      let msg = err.message;
      if (registered) {
        this.setMode('login');
        msg = `Your account was created, but signing in failed: ${err.message}`;
      }
      if (mode === 'register' && err.status === 409) msg = 'That username is taken. Try another one.';
      else if (mode === 'login' && err.status === 401) msg = 'Wrong username or password.';
      else if (err.status === 429) msg = err.message || 'Too many attempts. Wait a moment and try again.';
      this.error(msg);
      return;
    } finally {
      this.el.submit.disabled = false;
      this.el.submit.textContent = TEXT[this.mode].submit;
    }
    this.el.pass.value = '';
    this.hide();
    this.onSignedIn();
  }
}
