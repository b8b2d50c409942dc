// Turns whatever a command threw into what a person should read: the back end's own sentence
// for a BackendError, field-by-field messages for validation, and a calm generic sentence for
// anything unexpected (never a raw dump).
import { BackendError, type AppErrorCode } from "$lib/backend";

const UNEXPECTED = "Something went wrong inside Keydeck. Try again; if it keeps happening, restart the app.";

export function isCode(error: unknown, ...codes: AppErrorCode[]): error is BackendError {
  return error instanceof BackendError && codes.includes(error.code);
}

/** The sentence to show for an error. */
export function messageOf(error: unknown): string {
  if (error instanceof BackendError && error.message.trim()) return error.message;
  console.error(error);
  return UNEXPECTED;
}

/** Validation messages by field name (`name`, `rateLimit.maxRequests`, ...). */
export type FieldErrors = Record<string, string>;

export function fieldErrorsOf(error: unknown): FieldErrors {
  const out: FieldErrors = {};
  if (error instanceof BackendError) {
    for (const { field, message } of error.fields) {
      out[field] = out[field] ? `${out[field]} ${message}` : message;
    }
  }
  return out;
}

/**
 * Splits an error for a form: the messages of the fields the form shows, and one message for
 * the rest (undefined when every problem sits at a field).
 */
export function formErrors(
  error: unknown,
  shown: readonly string[],
): { fields: FieldErrors; general: string | undefined } {
  const all = fieldErrorsOf(error);
  const fields: FieldErrors = {};
  const rest: string[] = [];
  for (const [field, message] of Object.entries(all)) {
    if (shown.includes(field)) fields[field] = message;
    else rest.push(message);
  }
  if (Object.keys(all).length === 0) return { fields, general: messageOf(error) };
  return { fields, general: rest.length ? rest.join(" ") : undefined };
}
