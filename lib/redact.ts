/**
 * What must never reach a log line or the dashboard: keys, tokens, signatures, passwords,
 * verification and check-in codes, full phone numbers, e-mail addresses, ID numbers and WeChat
 * openids. Keys are matched by name; phone numbers, e-mail addresses, ID numbers and labelled codes
 * are also found inside any string (messages, SQL errors, vendor bodies, message texts).
 */

export const REDACTED = '[REDACTED]';

const SECRET_KEY =
  /(passw(or)?d|passwd|secret|token|authorization|signature|^sign$|^paysign$|private_?key|api_?key|api_?v3_?key|cookie|credential|ticket|session_?key|access_?key|^key$|^pwd$)/i;
const PHONE_KEY = /(phone|mobile|^tel$|telephone)/i;
const EMAIL_KEY = /(e_?mail|^to$|^cc$|^bcc$)/i;
const ID_NUMBER_KEY = /(id_?card|id_?number|id_?no$|certificate_?no|identity)/i;
const OPENID_KEY = /(open_?id|union_?id)/i;
/** One-time codes that let their holder in or redeem something: masked whole, never in part. */
const CODE_KEY = /(verif(y|ication)_?code|check_?(in_?)?code|sms_?code|auth_?code|captcha|^otp$)/i;
/**
 * A message template's parameters (sms-send's `params`): a bare `code` there is the SMS verification
 * code or the group-buy check-in code the text carries. Elsewhere `code` is an error code, kept.
 */
const TEMPLATE_PARAMS_KEY = /^(template_?)?params?$/i;
const BARE_CODE_KEY = /^code$/i;

const PHONE = /(?<![\d])(?:\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?![\d])/g;
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const ID_NUMBER = /(?<![\dA-Za-z])(\d{6})(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}([\dXx])(?![\dA-Za-z])/g;
/**
 * A code named in a message's text: `您的验证码为246810`, `核销码 123456789012`, `verification code
 * is 1234`. A code holds a digit, which keeps the words after a label ("code expired") readable.
 */
const LABELLED_CODE =
  /(验证码|校验码|动态码|核销码|取件码|提货码|兑换码|verification code|verify code|check-?in code)([^\dA-Za-z]{0,4}(?:is[^\dA-Za-z]{1,3})?)(?=[A-Za-z]*\d)[A-Za-z0-9]{4,32}/gi;

/**
 * What every pattern above needs: an e-mail address an `@`, a phone number 11 digits in a row, an
 * ID number 17 and a labelled code its label. Most log text (job ids, counts, timestamps) has none,
 * and is returned as is.
 */
const MAY_HOLD_PERSONAL_DATA = /@|\d{11}|码|code/i;

/** Masks labelled codes, phone numbers, e-mail addresses and ID numbers found anywhere in a string. */
export function maskText(text: string): string {
  if (!MAY_HOLD_PERSONAL_DATA.test(text)) return text;
  return text
    .replace(LABELLED_CODE, `$1$2${REDACTED}`)
    .replace(ID_NUMBER, '$1********$2')
    .replace(PHONE, '$1****$3')
    .replace(EMAIL, '$1***@$2');
}

/** What the masks above leave behind: a text holding one is a masked copy, not the real value. */
const MASK = String.raw`\[REDACTED\]|\d{3}\*{4}\d{4}|[A-Za-z0-9._%+-]\*{3}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d{6}\*{8}[\dXx]`;
const HOLDS_MASK = new RegExp(MASK);
const IS_MASK = new RegExp(`^(?:${MASK})$`);

/** Whether a text holds a value masked by these rules (so writing it back would lose the real one). */
export function holdsMaskedValue(text: string): boolean {
  return HOLDS_MASK.test(text);
}

type KeyKind = 'secret' | 'personal' | 'plain';

// Log lines reuse a small set of keys: classify each once.
const keyKinds = new Map<string, KeyKind>();
const MAX_CACHED_KEYS = 10_000;

function kindOf(key: string): KeyKind {
  let kind = keyKinds.get(key);
  if (kind === undefined) {
    kind =
      SECRET_KEY.test(key) || CODE_KEY.test(key)
        ? 'secret'
        : PHONE_KEY.test(key) || EMAIL_KEY.test(key) || ID_NUMBER_KEY.test(key) || OPENID_KEY.test(key)
          ? 'personal'
          : 'plain';
    if (keyKinds.size < MAX_CACHED_KEYS) keyKinds.set(key, kind);
  }
  return kind;
}

function maskByKey(key: string, value: string): string {
  const kind = kindOf(key);
  if (kind === 'secret') return REDACTED;
  if (kind === 'personal') {
    const masked = maskText(value);
    // A value that matched no pattern under a personal-data key is still personal data, unless it is
    // a mask these rules made: masking twice (the dashboard does) changes nothing.
    return masked === value && value.length > 0 && !IS_MASK.test(value) ? REDACTED : masked;
  }
  return maskText(value);
}

const MAX_DEPTH = 8;

/**
 * A plain value (objects, arrays, strings) with everything above masked. What needs no masking is
 * returned as it is, not copied; what does is copied, never changed in place. Errors and other
 * class instances are left to the serializers, which call this on what they produce.
 */
export function redactDeep(value: unknown, key = '', depth = 0): unknown {
  if (typeof value === 'string') return key ? maskByKey(key, value) : maskText(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    return key && kindOf(key) !== 'plain' ? REDACTED : value;
  }
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (key && kindOf(key) === 'secret') return REDACTED;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const masked = redactDeep(item, key, depth + 1);
      if (masked !== item) (copy ??= value.slice())[i] = masked;
    }
    return copy ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const source = value as Record<string, unknown>;
  const templateParams = key !== '' && TEMPLATE_PARAMS_KEY.test(key);
  let copy: Record<string, unknown> | undefined;
  for (const k in source) {
    if (!Object.prototype.hasOwnProperty.call(source, k)) continue;
    const v = source[k];
    const masked = templateParams && BARE_CODE_KEY.test(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redactDeep(v, k, depth + 1);
    if (masked !== v) (copy ??= { ...source })[k] = masked;
  }
  return copy ?? value;
}
