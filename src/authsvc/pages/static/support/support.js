// Support console: check the authorization code a customer reads out.
//
// The API key is typed once per tab and kept in sessionStorage (gone with the tab, never
// in local storage); it is sent only as `Authorization: Bearer`, to the API.

import { ApiError, call } from "../assets/api.js";
import { clearText, initI18n, onLanguageChange, setText } from "../assets/i18n.js";
import { countdown, formatDuration, formatTime, showError, showStatus } from "../assets/ui.js";

const $ = (id) => document.getElementById(id);
const KEY_SLOT = "authsvc.support-key";

let memoryKey = null; // when sessionStorage is unavailable
let verdict = null; // the last answer, kept to re-render on a language change
let stopWait = null;
let busy = false;

function readKey() {
  try {
    return window.sessionStorage.getItem(KEY_SLOT) || memoryKey;
  } catch {
    return memoryKey;
  }
}

function storeKey(key) {
  memoryKey = key;
  try {
    if (key) window.sessionStorage.setItem(KEY_SLOT, key);
    else window.sessionStorage.removeItem(KEY_SLOT);
  } catch {
    // memory only
  }
}

/** Enough of the key to recognise it, never the whole secret. */
function keyHint(key) {
  return key.length > 12 ? `${key.slice(0, 4)}…${key.slice(-4)}` : "…";
}

function showViews() {
  const key = readKey();
  $("key-view").hidden = Boolean(key);
  $("verify-view").hidden = !key;
  if (key) {
    setText($("key-set"), "support.key_set", { hint: keyHint(key) });
    $("customer").focus();
  } else {
    $("key").focus();
  }
}

function renderVerdict() {
  const box = $("result");
  box.hidden = verdict === null;
  if (verdict === null) return;
  box.dataset.valid = String(verdict.valid);
  if (verdict.valid) {
    setText($("verdict-word"), "support.valid");
    setText($("verdict-line1"), "support.valid_account", { login: verdict.account.login });
    setText($("verdict-line2"), "support.valid_until", { until: formatTime(verdict.expires_at) });
  } else {
    setText($("verdict-word"), "support.invalid");
    setText($("verdict-line1"), `support.reason.${verdict.reason}`);
    clearText($("verdict-line2"));
  }
}

function clearVerdict() {
  verdict = null;
  renderVerdict();
}

function waitBeforeChecking(seconds) {
  if (stopWait) stopWait();
  const wait = $("check-wait");
  wait.hidden = false;
  $("check").disabled = true;
  stopWait = countdown(
    Date.now() + seconds * 1000,
    (left) => setText(wait, "common.wait", { time: formatDuration(left) }),
    () => {
      stopWait = null;
      wait.hidden = true;
      clearText(wait);
      $("check").disabled = false;
    },
  );
}

async function check() {
  if (busy || stopWait) return;
  const customer = $("customer").value.trim();
  const code = $("code").value.trim();
  const purpose = $("purpose").value.trim();
  if (!customer || !code) {
    showError("support.missing");
    (customer ? $("code") : $("customer")).focus();
    return;
  }
  busy = true;
  $("check").disabled = true;
  clearVerdict();
  showError(null);
  showStatus("support.checking");
  try {
    const body = { customer, code };
    if (purpose) body.purpose = purpose;
    verdict = await call("POST", "/auth-codes/verify", { body, bearer: readKey() });
    showStatus(null);
    renderVerdict();
    $("code").value = ""; // what the customer read out is not kept on screen
  } catch (error) {
    showStatus(null);
    checkFailed(error);
  } finally {
    busy = false;
    if (!stopWait) $("check").disabled = false;
  }
}

function checkFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.status === 401) {
    storeKey(null);
    showError("err.invalid_api_key");
    showViews();
  } else if (error.status === 403) {
    showError("err.insufficient_scope");
  } else if (error.status === 429) {
    showError("err.support_rate");
    waitBeforeChecking(error.retryAfter ?? 60);
  } else if (error.status === 422) {
    showError("err.invalid_request");
  } else if (error.status === 503) {
    showError("err.database_unavailable");
    waitBeforeChecking(error.retryAfter ?? 2);
  } else if (error.status === 0) {
    showError("err.network");
  } else {
    showError("err.generic", { status: error.status });
  }
}

function init() {
  initI18n();
  onLanguageChange(() => {
    renderVerdict();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    if (!key) {
      showError("support.key_missing");
      $("key").focus();
      return;
    }
    $("key").value = "";
    storeKey(key);
    showError(null);
    showViews();
  });
  $("forget-key").addEventListener("click", () => {
    storeKey(null);
    clearVerdict();
    showViews();
  });
  $("verify-form").addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });
  // A verdict belongs to the inputs it answered; editing them takes it away.
  for (const id of ["customer", "code", "purpose"]) $(id).addEventListener("input", clearVerdict);
  showViews();
}

init();
