// Optional enhancement: fill the column mapping from the chosen CSV file's header line.
(function () {
  "use strict";
  var input = document.getElementById("file");
  var list = document.getElementById("column-names");
  if (!input || !list || !window.FileReader) { return; }
  var guesses = {
    y_true: ["y_true", "label", "actual", "outcome", "two_year_recid", "target"],
    y_pred: ["y_pred", "prediction", "predicted", "predicted_high_risk", "pred"],
    y_score: ["y_score", "score", "probability", "proba"]
  };
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file || /\.parquet$/i.test(file.name)) { return; }
    var reader = new FileReader();
    reader.onload = function () {
      var text = String(reader.result).replace(/^\uFEFF/, "");
      var header = text.split(/\r?\n/)[0] || "";
      var counts = { ",": header.split(",").length, ";": header.split(";").length, "\t": header.split("\t").length };
      var delimiter = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a]; })[0];
      var columns = header.split(delimiter).map(function (c) { return c.trim().replace(/^"|"$/g, ""); });
      list.innerHTML = "";
      columns.forEach(function (c) { var o = document.createElement("option"); o.value = c; list.appendChild(o); });
      ["y_true", "y_pred", "y_score"].forEach(function (field) {
        var el = document.getElementById(field);
        if (!el) { return; }
        el.setAttribute("list", "column-names");
        if (el.value) { return; }
        var hit = columns.filter(function (c) { return guesses[field].indexOf(c.toLowerCase()) !== -1; })[0];
        if (hit) { el.value = hit; }
      });
    };
    reader.readAsText(file.slice(0, 65536));
  });
}());
