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
