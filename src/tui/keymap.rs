//! Keys and what they do. The help overlay (`?`) is generated from [`KEYMAP`], so it cannot
//! drift from what the keys really do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a user can ask for. [`crate::tui::app::App::update`] is the only place these
/// change anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Next pane (sessions ↔ dialogue) or, from the dialogue, back to sessions.
    NextPane,
    NextTab,
    Tab(usize),
    Enter,
    Back,
    Quit,
    Help,
    StartFilter,
    CycleSort,
    ToggleHex,
    Save,
    RevealPasswords,
    /// A character typed into the filter or the save prompt.
    Input(char),
    InputBackspace,
    /// Mouse: a click on screen row `y`, and the wheel.
    Click(u16),
    ScrollUp,
    ScrollDown,
    Resize(u16, u16),
}

/// (keys as shown in the help, description, the action).
pub const KEYMAP: &[(&str, &str, Action)] = &[
    ("↑ k", "move up", Action::Up),
    ("↓ j", "move down", Action::Down),
    ("PgUp PgDn", "page up / down", Action::PageUp),
    ("g G / Home End", "first / last", Action::Home),
    ("Tab", "switch pane: sessions ↔ dialogue", Action::NextPane),
    ("1 2 3", "sessions, transfers, anomalies", Action::NextTab),
    (
        "Enter",
        "open a dialogue or a transfer; unfold a reply",
        Action::Enter,
    ),
    ("Esc", "back", Action::Back),
    (
        "/",
        "filter by host, user, command or path",
        Action::StartFilter,
    ),
    (
        "o",
        "sort sessions: start, user, bytes, transfers",
        Action::CycleSort,
    ),
    ("h", "transfer detail: text ↔ hex", Action::ToggleHex),
    (
        "s",
        "transfer detail: save the file to a folder",
        Action::Save,
    ),
    ("p", "reveal or mask passwords", Action::RevealPasswords),
    ("?", "this help", Action::Help),
    ("q Ctrl-C", "quit", Action::Quit),
];

/// Maps a key press to an action. `typing` is true while the filter or save prompt takes text.
pub fn action_for(key: KeyEvent, typing: bool) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if typing {
        return match key.code {
            KeyCode::Enter => Some(Action::Enter),
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Backspace => Some(Action::InputBackspace),
            KeyCode::Char(c) => Some(Action::Input(c)),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Home,
        KeyCode::End | KeyCode::Char('G') => Action::End,
        KeyCode::Tab | KeyCode::BackTab => Action::NextPane,
        KeyCode::Char('1') => Action::Tab(0),
        KeyCode::Char('2') => Action::Tab(1),
        KeyCode::Char('3') => Action::Tab(2),
        KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => Action::Enter,
        KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => Action::Back,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Char('o') => Action::CycleSort,
        KeyCode::Char('h') => Action::ToggleHex,
        KeyCode::Char('s') => Action::Save,
        KeyCode::Char('p') => Action::RevealPasswords,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(
            action_for(key(KeyCode::Char('j')), false),
            Some(Action::Down)
        );
        assert_eq!(action_for(key(KeyCode::Up), false), Some(Action::Up));
        assert_eq!(
            action_for(key(KeyCode::Char('q')), false),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(key(KeyCode::Char('2')), false),
            Some(Action::Tab(1))
        );
        assert_eq!(action_for(key(KeyCode::Char('x')), false), None);
        // While typing, letters are text, not commands; Ctrl-C still quits.
        assert_eq!(
            action_for(key(KeyCode::Char('q')), true),
            Some(Action::Input('q'))
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(ctrl_c, true), Some(Action::Quit));
    }

    #[test]
    fn every_documented_key_does_what_the_help_says() {
        for (keys, _, action) in KEYMAP {
            let first = keys.split_whitespace().next().unwrap();
            let code = match first {
                "↑" => KeyCode::Up,
                "↓" => KeyCode::Down,
                "PgUp" => KeyCode::PageUp,
                "Tab" => KeyCode::Tab,
                "Enter" => KeyCode::Enter,
                "Esc" => KeyCode::Esc,
                "1" => continue, // tabs: 1 2 3 map to Tab(n), checked above
                c => KeyCode::Char(c.chars().next().unwrap()),
            };
            assert_eq!(
                action_for(key(code), false).as_ref(),
                Some(action),
                "{keys}"
            );
        }
    }
}
