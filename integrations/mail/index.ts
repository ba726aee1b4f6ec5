import type { MessagingConfig } from '../../lib/config-messaging';
import type { Logger } from '../../lib/logger';
import { notOpened, type OpenedIntegration } from '../opened-integration';
import type { Mailer } from './mail.client';
import { SmtpMailClient } from './mail.live';
import type { SmtpEmulator } from './emulator/mail.emulator';

export type OpenedMail = OpenedIntegration<Mailer, { readonly smtp?: SmtpEmulator }>;

/** The SMTP account from SMTP_URL; without one (development only: production refuses to start), a local SMTP peer keeps the mail. */
export async function openMail(config: MessagingConfig['mail'], log: Logger): Promise<OpenedMail> {
  const mailLog = log.child({ integration: 'mail' });
  let url = config.smtpUrl;
  let emulator: SmtpEmulator | undefined;
  if (!url) {
    // Loaded only here: a live process never carries the emulator's code.
    const { SmtpEmulator } = await import('./emulator/mail.emulator');
    emulator = await SmtpEmulator.start();
    url = emulator.url;
    mailLog.info({ url }, 'smtp emulator started (no SMTP_URL)');
  }
  const client = new SmtpMailClient({ url, log: mailLog });
  return {
    client: { from: config.from, client },
    emulators: emulator ? { smtp: emulator } : {},
    async close() {
      await client.close();
      await emulator?.stop();
    },
  };
}

/** For processes that open no mail account; sending fails, saying so. */
export const NO_MAIL: Mailer = {
  from: 'jobhub <jobhub@localhost>',
  client: { send: notOpened('mail'), close: () => Promise.resolve() },
};
