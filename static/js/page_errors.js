// Says something when an htmx request fails without an answer to show: the portal's
// refusals come as 422 with their own sentence, but a 400, 404 or 5xx, or no answer at
// all, would otherwise leave a click doing nothing.
(function () {
  var GENERAL = {
    400: "That could not be sent as it was. Reload the page and try again.",
    403: "You can't do that here. Reload the page: you may have been logged out.",
    404: "That no longer exists, or it isn't yours. Reload the page.",
    413: "That was too large to send.",
    414: "That was too large to send.",
    431: "That was too large to send.",
  };
  var SERVER = "Something went wrong on our side. Try again in a minute.";
  var NO_ANSWER = "The portal did not answer: check your connection, then try again.";

  function say(sentence, passing) {
    var area = document.getElementById("page-error");
    if (!area) return;
    var shown = area.querySelector("[data-said-by=page-errors]");
    // The same sentence again (a poll failing every few seconds) is not announced again.
    if (shown && shown.dataset.sentence === sentence) return;
    var line = document.createElement("p");
    line.className = "error";
    line.setAttribute("role", "alert");
    line.dataset.saidBy = "page-errors";
    line.dataset.sentence = sentence;
    if (passing) line.dataset.passing = "yes";
    line.textContent = sentence + " ";
    var reload = document.createElement("a");
    reload.href = "";
    reload.textContent = "Reload the page";
    line.appendChild(reload);
    area.replaceChildren(line);
  }

  function sentenceFor(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = (xhr.responseText || "").trim();
    // A short plain-text answer is the portal's own sentence for this refusal.
    if (type.indexOf("text/plain") === 0 && text && text.length <= 300) return text;
    if (xhr.status >= 500) return SERVER;
    return GENERAL[xhr.status] || GENERAL[400];
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    say(sentenceFor(xhr), xhr.status >= 500);
  });
  document.addEventListener("htmx:sendError", function () {
    say(NO_ANSWER, true);
  });
  // Once requests succeed again, a passing trouble (no answer, a server error) is taken
  // down; a refusal stays until the page is reloaded, and so does any sentence the
  // portal put there itself, such as a stale page's.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    var shown = document.querySelector("#page-error [data-passing=yes]");
    if (shown) shown.remove();
  });
})();
