//! Keys and what they do. The help overlay (`?`) is generated from [`KEYMAP`], so it cannot
//! drift from what the keys really do. One scheme everywhere: Tab always changes tab; arrows
//! and their vim twins (`h j k l`) move, open and go back.

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
    NextTab,
    PrevTab,
    Tab(usize),
    Enter,
    Back,
    Quit,
    Help,
    /// `/`: the tab's filter, or text to find in a dialogue or a file.
    Search,
    FindNext,
    FindPrev,
    CycleSort,
    ReverseSort,
    ToggleHex,
    GoTo,
    Save,
    SaveAll,
    Export,
    CopyHash,
    CopyPath,
    CopyFilter,
    Follow,
    Info,
    ToggleTime,
    RevealPasswords,
    /// A character typed into a prompt.
    Input(char),
    InputBackspace,
    /// Mouse: a click on screen row `y`, and the wheel.
    Click(u16),
    ScrollUp,
    ScrollDown,
    Resize(u16, u16),
}

/// (keys as shown in the help, description, the action). `?` and `q` come first, so that
/// they are seen on the smallest screen.
pub const KEYMAP: &[(&str, &str, Action)] = &[
    (
        "?",
        "this help (↑↓ scroll, any other key closes)",
        Action::Help,
    ),
    ("q Ctrl-C", "quit", Action::Quit),
    ("Tab S-Tab", "next / previous tab", Action::NextTab),
    (
        "1 2 3 4",
        "Overview, Sessions, Transfers, Anomalies",
        Action::Tab(0),
    ),
    ("↑ k  ↓ j", "move up / down", Action::Up),
    ("PgUp PgDn", "page up / down (also Space)", Action::PageUp),
    (
        "g G Home End",
        "first / last (in a file: its start / end)",
        Action::Home,
    ),
    (
        "Enter → l",
        "open: list, dialogue, transfer; unfold [+]",
        Action::Enter,
    ),
    ("Esc ← h", "back; in a list, clear its filter", Action::Back),
    (
        "/",
        "filter the list (user: host: port: status: cmd: path: kind: -not /re/); in a dialogue or file: find",
        Action::Search,
    ),
    (
        "n N",
        "next / previous match (dialogue, file)",
        Action::FindNext,
    ),
    (
        "o O",
        "sort by the next key / reverse the order",
        Action::CycleSort,
    ),
    ("x", "file: text ↔ hex", Action::ToggleHex),
    (
        ":",
        "file: go to an offset (decimal or 0x hex)",
        Action::GoTo,
    ),
    ("s", "file: save it to a folder (~ is home)", Action::Save),
    (
        "S",
        "session: save all its files to a folder",
        Action::SaveAll,
    ),
    ("e", "export the list as shown (JSON Lines)", Action::Export),
    (
        "y Y",
        "file: copy its sha256 / its path (OSC 52)",
        Action::CopyHash,
    ),
    (
        "w",
        "file: copy its Wireshark display filter",
        Action::CopyFilter,
    ),
    (
        "i",
        "session: banner, software, bytes, logins, TLS",
        Action::Info,
    ),
    (
        "f",
        "session: follow the control stream (raw)",
        Action::Follow,
    ),
    ("t", "times in UTC ↔ local", Action::ToggleTime),
    ("p", "reveal or mask passwords", Action::RevealPasswords),
];

/// Maps a key press to an action. `typing` is true while a prompt takes text.
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
        KeyCode::Tab => Action::NextTab,
        KeyCode::BackTab => Action::PrevTab,
        KeyCode::Char(c @ '1'..='4') => Action::Tab(usize::from(c as u8 - b'1')),
        KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => Action::Enter,
        KeyCode::Esc | KeyCode::Left | KeyCode::Backspace | KeyCode::Char('h') => Action::Back,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('/') => Action::Search,
        KeyCode::Char('n') => Action::FindNext,
        KeyCode::Char('N') => Action::FindPrev,
        KeyCode::Char('o') => Action::CycleSort,
        KeyCode::Char('O') => Action::ReverseSort,
        KeyCode::Char('x') => Action::ToggleHex,
        KeyCode::Char(':') => Action::GoTo,
        KeyCode::Char('s') => Action::Save,
        KeyCode::Char('S') => Action::SaveAll,
        KeyCode::Char('e') => Action::Export,
        KeyCode::Char('y') => Action::CopyHash,
        KeyCode::Char('Y') => Action::CopyPath,
        KeyCode::Char('w') => Action::CopyFilter,
        KeyCode::Char('i') => Action::Info,
        KeyCode::Char('f') => Action::Follow,
        KeyCode::Char('t') => Action::ToggleTime,
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
        assert_eq!(action_for(key(KeyCode::Char('Z')), false), None);
        // One meaning each: Tab changes tab, h and Left go back, l and Right open.
        assert_eq!(action_for(key(KeyCode::Tab), false), Some(Action::NextTab));
        assert_eq!(
            action_for(key(KeyCode::Char('h')), false),
            Some(Action::Back)
        );
        assert_eq!(action_for(key(KeyCode::Left), false), Some(Action::Back));
        assert_eq!(
            action_for(key(KeyCode::Char('l')), false),
            Some(Action::Enter)
        );
        assert_eq!(action_for(key(KeyCode::Right), false), Some(Action::Enter));
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
                "PgUp" => KeyCode::PageUp,
                "Tab" => KeyCode::Tab,
                "Enter" => KeyCode::Enter,
                "Esc" => KeyCode::Esc,
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
