// Follow-up questions appear as soon as the answer that asks for them is chosen. Without this
// script, "Save and continue" shows them on the same step.
(function () {
  "use strict";
  const form = document.querySelector("form.questionnaire");
  if (!form) return;

  function values(id) {
    return Array.from(form.querySelectorAll(`input[name="${id}"]:checked`)).map((i) => i.value);
  }

  function update() {
    const shown = new Set();
    form.querySelectorAll("fieldset.question").forEach((fieldset) => {
      const rule = fieldset.dataset.showIf ? JSON.parse(fieldset.dataset.showIf) : null;
      let visible = !fieldset.hidden;
      const controller = rule && document.getElementById(rule.question);
      if (rule && controller && controller.matches("fieldset.question")) {
        visible = shown.has(rule.question) && values(rule.question).some((v) => rule.in.includes(v));
        fieldset.hidden = !visible;
      } else if (!rule) {
        visible = true;
      }
      if (visible) shown.add(fieldset.id);
    });
  }

  form.dataset.enhanced = "true";
  form.addEventListener("change", update);
  update();
})();
