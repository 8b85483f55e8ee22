// Small helpers shared by the pages: messages, countdowns, times.

import { clearText, locale, setText } from "./i18n.js";

/**
 * Announce an error in the page's alert region (role="alert"), or clear it. `scope` names
 * a section's own regions (`${scope}-alert`), for messages next to the form they are about.
 */
export function showError(key, params = {}, scope = "") {
  const region = document.getElementById(scope ? `${scope}-alert` : "alert");
  if (key) setText(region, key, params);
  else clearText(region);
}

/** Announce progress or success in the page's status region (role="status"), or clear it. */
export function showStatus(key, params = {}, scope = "") {
  const region = document.getElementById(scope ? `${scope}-status` : "status");
  if (key) setText(region, key, params);
  else clearText(region);
}

export function clearMessages() {
  showError(null);
  showStatus(null);
}

/** "0:42", "9:05", "1:00:00" */
export function formatDuration(totalSeconds) {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** "14:05" in the browser's time zone. */
export function formatTime(iso) {
  return new Date(iso).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
}

/** Date and time, e.g. "26.11.2026, 14:05:09". */
export function formatDateTime(iso) {
  return new Date(iso).toLocaleString(locale(), { dateStyle: "short", timeStyle: "medium" });
}

/**
 * Count down to `deadline` (a Date or ms timestamp): `tick(secondsLeft)` now and every
 * second, `done()` once at zero. Returns a function that stops it.
 */
export function countdown(deadline, tick, done) {
  const end = typeof deadline === "number" ? deadline : deadline.getTime();
  let timer = null;
  const step = () => {
    const left = (end - Date.now()) / 1000;
    if (left <= 0) {
      timer = null;
      tick(0);
      if (done) done();
      return;
    }
    tick(left);
    // Wake at the next whole second so the display does not skip or stall.
    timer = window.setTimeout(step, (left % 1) * 1000 + 20);
  };
  step();
  return () => {
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
  };
}

/** Group a code for reading out: "042917" -> "042 917". */
export function groupCode(code) {
  return code.replace(/(\d{3})(?=\d)/g, "$1 ");
}

/** The digits of what was typed or pasted ("123 456" -> "123456"), at most `max`. */
export function digitsOnly(value, max = 6) {
  return value.replace(/\D/g, "").slice(0, max);
}

/**
 * The reason of a `weak_password` refusal as an i18n key and its parameters, from the
 * problem's stable `reason` (and `limit`); anything unknown gets a general text.
 */
export function weakPasswordReason(problem) {
  const reason = problem && problem.reason;
  if (reason === "too_short") return ["weak.too_short", { n: String(problem.limit) }];
  if (reason === "too_long") return ["weak.too_long", { n: String(problem.limit) }];
  if (reason === "common") return ["weak.common", {}];
  if (reason === "same_as_login") return ["weak.same_as_login", {}];
  if (reason === "context_word") return ["weak.context_word", { n: String(problem.limit) }];
  return ["weak.other", {}];
}
