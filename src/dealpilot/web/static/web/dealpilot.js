// The page behaviour that used to be inline (onchange=, onsubmit=, onclick=), which the
// Content-Security-Policy does not allow (docs/security.md, "In the browser"). Listeners sit on the
// document, so content that htmx swaps in later behaves the same without binding anything again.
//   <select data-autosubmit>          submits its form when it changes (through htmx when the form is one)
//   <form data-confirm="Question?">   asks before submitting
//   <input data-select-on-click>      selects its whole text when clicked (addresses to copy)
//   <button data-print>               prints the page
(function () {
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);  // capture: asked before htmx or anything else acts on the submission
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-select-on-click], [data-print]") : null;
    if (!el) return;
    if (el.hasAttribute("data-print")) window.print();
    else el.select();
  });
})();
