// Small behaviours that need JavaScript; every page works without this file.
document.addEventListener("click", (event) => {
  const printButton = event.target.closest("[data-print]");
  if (printButton) {
    event.preventDefault();
    window.print();
  }
});

// After an htmx swap that replaced the focused element, move focus to the new
// region so keyboard and screen-reader users are not lost.
document.body.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (target && target.hasAttribute("data-focus-after-swap")) {
    target.focus();
  }
});

// GOV.UK pattern: after a failed submit, put focus on the error summary so it is read first.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
});

// Agreement builder: adding or removing an activity row only swaps the rows (nothing is
// saved), so tell the form it changed: htmx then autosaves it and refreshes the preview.
// Focus goes to the new row's first field (htmx honours its autofocus), or after a
// removal to the add button, since the button that was pressed is gone.
document.body.addEventListener("htmx:afterSettle", (event) => {
  if (!event.detail.target || event.detail.target.id !== "activity-rows") {
    return;
  }
  const rows = document.getElementById("activity-rows");
  const form = rows && rows.closest("form");
  if (!form) {
    return;
  }
  const focus = rows.querySelector("[autofocus]") || document.getElementById("add-activity");
  if (focus && document.activeElement !== focus) {
    focus.focus();
  }
  form.dispatchEvent(new Event("change", { bubbles: true }));
});

// "No work is ever lost": a form marked data-autosave is saved by htmx a moment after
// typing stops (the element #autosave in it). Anything typed since the last save the
// server confirmed is sent as the page is left or hidden, before htmx's delay runs out.
const autosaveForm = document.querySelector("form[data-autosave]");
if (autosaveForm) {
  // Counting edits, not a flag: a save answered after newer typing must not count it as saved.
  let edits = 0;
  let sending = 0;
  let saved = 0;
  let refused = false; // the last autosave was refused (a format error, or someone else's save)
  let submitting = false;
  let beaconSent = false;

  const countEdit = () => {
    edits += 1;
  };
  autosaveForm.addEventListener("input", countEdit);
  autosaveForm.addEventListener("change", countEdit);
  // "Lagre og fortsett" saves everything itself; no extra save or warning on the way out.
  autosaveForm.addEventListener("submit", () => {
    submitting = true;
  });

  const isAutosave = (event) => event.detail.elt && event.detail.elt.id === "autosave";
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (isAutosave(event)) {
      sending = edits;
    }
  });
  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (!isAutosave(event) || !event.detail.xhr) {
      return;
    }
    // htmx swaps 4xx answers too (see base.html), so judge by the status, not `successful`.
    const status = event.detail.xhr.status;
    refused = status >= 400;
    if (status >= 200 && status < 300) {
      saved = Math.max(saved, sending);
    }
  });

  const unsaved = () => !submitting && edits > saved;
  const formData = () => {
    const data = new FormData(autosaveForm);
    data.set("autosave", "1");
    return data;
  };

  // The page is going away: only a beacon outlives it.
  window.addEventListener("pagehide", () => {
    if (unsaved() && navigator.sendBeacon(autosaveForm.action, formData())) {
      saved = edits;
      beaconSent = true;
    }
  });
  // Hidden (another tab, the phone locked) may be the last moment the page gets; it may also
  // come back, and then it needs the new revision the answer carries, or its next autosave
  // would conflict with its own save. A keepalive fetch does both.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "hidden" || !unsaved()) {
      return;
    }
    const upTo = edits;
    fetch(autosaveForm.action, { method: "POST", body: formData(), keepalive: true, credentials: "same-origin" })
      .then((response) => response.text().then((html) => ({ response, html })))
      .then(({ response, html }) => {
        refused = !response.ok;
        if (response.ok) {
          saved = Math.max(saved, upTo);
        }
        const status = document.getElementById("save-status");
        if (status && window.htmx) {
          window.htmx.swap(status, html, { swapStyle: "innerHTML" });
        }
      })
      .catch(() => {}); // offline: the edits stay unsaved, and are sent again on the way out
  });
  // Back from the browser's page cache after a beacon: the page's revision is old, so
  // show the page as saved instead of letting its next autosave conflict with itself.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && beaconSent) {
      window.location.reload();
    }
  });
  // A beacon cannot save what the server refused (e.g. an amount written wrong): ask
  // before leaving with such edits.
  window.addEventListener("beforeunload", (event) => {
    if (refused && unsaved()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}

// Batch print and archive export: the file is fetched here, so the page can say that work
// is going on and when the file is ready. If fetching fails, or the answer is a page (a
// message, e.g. nothing chosen), the form is posted as usual, as it is without JavaScript.
document.addEventListener("click", (event) => {
  const link = event.target.closest("form[data-download] a[data-select]");
  if (!link) {
    return;
  }
  event.preventDefault();
  const checked = link.dataset.select === "all";
  link.closest("form").querySelectorAll('input[type="checkbox"][name="agreement"]').forEach((box) => {
    box.checked = checked;
  });
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  if (!form.matches("form[data-download]") || !button || !button.dataset.busy || form.dataset.native || !window.fetch) {
    return;
  }
  event.preventDefault();
  if (form.dataset.working) {
    return; // one file at a time: a second click waits for the first
  }
  form.dataset.working = "1";
  const status = form.querySelector("[data-download-status]");
  const buttons = form.querySelectorAll("button[type=submit]");
  const postNatively = () => {
    form.dataset.native = "1";
    form.requestSubmit(button);
    delete form.dataset.native;
  };
  status.textContent = button.dataset.busy;
  status.classList.add("busy");
  buttons.forEach((b) => b.setAttribute("aria-disabled", "true"));
  const finish = (text) => {
    delete form.dataset.working;
    status.textContent = text;
    status.classList.remove("busy");
    buttons.forEach((b) => b.removeAttribute("aria-disabled"));
  };
  fetch(button.formAction, { method: "POST", body: new FormData(form, button), credentials: "same-origin" })
    .then((response) => {
      const disposition = response.headers.get("Content-Disposition") || "";
      if (!response.ok || !disposition.startsWith("attachment")) {
        finish("");
        postNatively();
        return null;
      }
      const match = disposition.match(/filename="?([^";]+)"?/);
      return response.blob().then((blob) => {
        const url = URL.createObjectURL(blob);
        const link = document.createElement("a");
        link.href = url;
        link.download = match ? match[1] : "";
        document.body.append(link);
        link.click();
        link.remove();
        window.setTimeout(() => URL.revokeObjectURL(url), 60000);
        finish(status.dataset.done);
      });
    })
    .catch(() => {
      finish("");
      postNatively();
    });
});
