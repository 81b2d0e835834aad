// Entry point: signs in (or resumes a stored session) and runs the App.

import { Session } from './session.js';
import { AuthView } from './auth.js';
import { App } from './app.js';
import { View } from './view.js';

const NOTICES = {
  ended: 'Your session ended. Please sign in again.',
  expired: 'Your session expired. Please sign in again.',
  signed_out_elsewhere: 'You signed out in another tab.',
  signed_out: '',
};

const session = new Session();
const view = new View();
let app = null;

const auth = new AuthView(session, start);

function start() {
  auth.hide();
  app = new App(session, view);
  view.attach(app);
  app.start();
}

session.addEventListener('ended', (e) => {
  if (app) app.stop();
  app = null;
  view.detach();
  auth.show(NOTICES[e.detail.reason] ?? '');
});

document.getElementById('signout').addEventListener('click', async () => {
  if (app) app.stop(); // close the socket first: no reconnect while signing out
  await session.logout();
});

if (session.signedIn) start();
else auth.show();
