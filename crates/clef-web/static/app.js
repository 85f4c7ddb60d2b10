// Progressive enhancement only: every page works without it.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        const label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(() => { copy.textContent = label; }, 1500);
      });
    }
  }
});
document.addEventListener("submit", (event) => {
  const submitter = event.submitter;
  const message = (submitter && submitter.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
// The new-channel form names what the chosen kind needs.
const kindSelect = document.getElementById("channel-kind");
if (kindSelect) {
  const follow = () => {
    const option = kindSelect.selectedOptions[0];
    document.getElementById("channel-target-label").textContent = option.dataset.targetLabel;
    document.getElementById("channel-target").placeholder = option.dataset.placeholder;
  };
  kindSelect.addEventListener("change", follow);
  follow();
}
// The organisation switcher switches as soon as another organisation is chosen.
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}
