/* global document, window, MutationObserver */
/*
 * The dashboard's controls for the user's role (server/board/board-role-script.ts). Bull Board
 * 9.10.1 can hide its write controls only all at once, which would take retry, promote and pause
 * from operators too; so this hides from operators the controls of the admin's actions
 * (server/board/board-actions.ts). It tidies the page only: the server refuses those actions to
 * an operator whatever the page shows.
 *
 * Controls are recognised by their icon (lucide's class names), not by their label: labels follow
 * the board's language (HUB_BOARD_LOCALE, or the one a user picks in Settings), icons do not.
 */
(function () {
  'use strict';

  var role = document.documentElement.getAttribute('data-hub-role');

  /*
   * Bull Board asks before emptying a queue, cleaning jobs (all, or one), removing or running a
   * scheduler, only while "Confirm queue actions" and "Confirm job actions" are on in its Settings,
   * kept in this browser. They are turned back on at every load, for every role, before Bull Board
   * reads them (this script runs first). Obliterating always asks; editing a job's data is a dialog
   * of its own, written only by its submit button.
   */
  var SETTINGS_KEY = 'board-settings';
  try {
    var stored = window.localStorage.getItem(SETTINGS_KEY);
    var settings = stored ? JSON.parse(stored) : null;
    if (settings && settings.state && (settings.state.confirmQueueActions === false || settings.state.confirmJobActions === false)) {
      settings.state.confirmQueueActions = true;
      settings.state.confirmJobActions = true;
      window.localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    }
  } catch {
    // No storage (private mode, a policy): Bull Board's defaults, both on, apply.
  }

  if (role !== 'operator') return;

  /*
   * The icons of the controls that only do what the admin may. The same icon can mean another thing
   * elsewhere (plus zooms the flow graph in, arrow-up-down opens the sort menu, play resumes a
   * queue), hence one list per kind of control. Retry (refresh-cw), promote (corner-up-left), pause
   * and resume (pause, play) and sorting stay.
   */
  /* The queue's menu: add job, set concurrency, set rate limit, empty, obliterate. */
  var MENU_ICONS = ['plus', 'chart-no-axes-gantt', 'gauge', 'trash-2', 'ban'];
  /*
   * Buttons: duplicate, edit data (and the info panel's limits, a scheduler's schedule), clean a job or
   * all (and remove a scheduler), reschedule, change priority, remove unprocessed children.
   */
  var BUTTON_ICONS = ['files', 'pencil', 'trash-2', 'clock', 'arrow-up-down', 'list-x'];
  /* In the schedulers' table every button writes; its "run now" has resume's icon. */
  var TABLE_BUTTON_ICONS = ['play'];
  /* Releasing a rate limit: its button is also the badge saying the queue is limited, so it stays, inert. */
  var INERT_BUTTON_ICONS = ['gauge'];

  var HIDDEN = 'data-hub-admin-only';
  var ICONS = MENU_ICONS.concat(BUTTON_ICONS, TABLE_BUTTON_ICONS, INERT_BUTTON_ICONS)
    .map(function (name) { return 'svg.lucide-' + name; })
    .join(', ');

  var style = document.createElement('style');
  style.textContent = '[' + HIDDEN + '] { display: none !important; }';
  document.head.appendChild(style);

  function isOneOf(icon, names) {
    return names.some(function (name) { return icon.classList.contains('lucide-' + name); });
  }

  /* The control, or the list item holding only it (a job's or the queue's toolbar), so no gap stays. */
  function hide(control) {
    var item = control.closest('li');
    var targets = item && item.querySelectorAll('button, [role="menuitem"]').length === 1 ? [control, item] : [control];
    targets.forEach(function (target) {
      target.setAttribute(HIDDEN, '');
      target.setAttribute('aria-hidden', 'true');
    });
  }

  function tidy(icon) {
    // The flow graph's own buttons (react-flow) zoom and pan only.
    if (icon.closest('.react-flow')) return;
    var control = icon.closest('button, [role="menuitem"]');
    if (!control || control.hasAttribute(HIDDEN) || control.hasAttribute('data-hub-inert')) return;
    if (control.getAttribute('role') === 'menuitem') {
      if (isOneOf(icon, MENU_ICONS)) hide(control);
    } else if (isOneOf(icon, INERT_BUTTON_ICONS)) {
      control.disabled = true;
      control.setAttribute('data-hub-inert', '');
    } else if (isOneOf(icon, BUTTON_ICONS) || (isOneOf(icon, TABLE_BUTTON_ICONS) && control.closest('td'))) {
      hide(control);
    }
  }

  function sweep() {
    var icons = document.querySelectorAll(ICONS);
    for (var i = 0; i < icons.length; i++) tidy(icons[i]);
  }

  sweep();
  /* Bull Board draws and redraws as it polls, and opens menus and dialogs at the end of <body>. */
  new MutationObserver(sweep).observe(document.body, { childList: true, subtree: true });
})();
