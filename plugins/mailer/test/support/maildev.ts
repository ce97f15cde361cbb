// The real MailDev catcher lives in the test kit (@gantry/testing) so every suite reads mail the same way.
export { MailCatcher, type CaughtAddress, type CaughtMail } from '@gantry/testing/maildev';
