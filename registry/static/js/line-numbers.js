// Line numbers beside a textarea marked `data-line-numbers` on its wrapper. Without
// JavaScript the textarea stays a plain monospace field; the error list still names lines.
// Lines listed in `data-error-lines` are marked; links with `data-line` select that line.
(function () {
  "use strict";

  function lineCount(textarea) {
    return textarea.value.split("\n").length;
  }

  function render(gutter, textarea, errors) {
    const count = lineCount(textarea);
    if (Number(gutter.dataset.count) === count) return;
    gutter.dataset.count = String(count);
    const parts = [];
    for (let n = 1; n <= count; n += 1) {
      parts.push(errors.has(n) ? '<span class="error-line">' + n + "</span>" : String(n));
    }
    gutter.innerHTML = parts.join("\n");
  }

  function selectLine(textarea, line) {
    const lines = textarea.value.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i += 1) start += lines[i].length + 1;
    const end = start + (lines[line - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    const height = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (line - 4) * height);
  }

  function setUp(wrapper) {
    const textarea = wrapper.querySelector("textarea");
    if (!textarea) return;
    const errors = new Set(
      (wrapper.dataset.errorLines || "").split(",").filter(Boolean).map(Number)
    );
    const gutter = document.createElement("pre");
    gutter.className = "code-gutter";
    gutter.setAttribute("aria-hidden", "true");
    wrapper.insertBefore(gutter, textarea);
    wrapper.classList.add("has-gutter");
    const sync = function () {
      render(gutter, textarea, errors);
      gutter.scrollTop = textarea.scrollTop;
    };
    textarea.addEventListener("input", sync);
    textarea.addEventListener("scroll", function () { gutter.scrollTop = textarea.scrollTop; });
    new ResizeObserver(function () { gutter.style.height = textarea.offsetHeight + "px"; }).observe(textarea);
    sync();
    document.querySelectorAll('a[data-line][href="#' + textarea.id + '"]').forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        selectLine(textarea, Number(link.dataset.line));
        sync();
      });
    });
  }

  document.querySelectorAll("[data-line-numbers]").forEach(setUp);
})();
