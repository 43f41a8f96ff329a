//! Remote paths: resolving an argument against the working directory (RFC 959 §4.1.1 CWD,
//! CDUP, PWD) so every transfer can be shown with its full path. Paths are bytes.

/// Resolves `path` against `cwd`. An absolute path stands alone; a relative one needs the
/// working directory (None when it is unknown). `.` and `..` are resolved; `..` never climbs
/// above `/`.
pub fn resolve(cwd: Option<&[u8]>, path: &[u8]) -> Option<Vec<u8>> {
    let joined: Vec<u8> = if path.first() == Some(&b'/') {
        path.to_vec()
    } else {
        let cwd = cwd?;
        let mut j = cwd.to_vec();
        if j.last() != Some(&b'/') {
            j.push(b'/');
        }
        j.extend_from_slice(path);
        j
    };
    Some(normalize(&joined))
}

/// Collapses `//`, `.` and `..` in an absolute or relative path.
pub fn normalize(path: &[u8]) -> Vec<u8> {
    let absolute = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !absolute {
                    parts.push(part);
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// The parent of a directory (for CDUP).
pub fn parent(dir: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(b"..");
    normalize(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(Option<&str>, &str, Option<&str>)] = &[
            (Some("/pub"), "a.txt", Some("/pub/a.txt")),
            (Some("/pub/"), "a.txt", Some("/pub/a.txt")),
            (Some("/pub"), "/etc/x", Some("/etc/x")),
            (Some("/pub"), "../x", Some("/x")),
            (Some("/"), "../../x", Some("/x")),
            (Some("/a/b"), "./c//d", Some("/a/b/c/d")),
            (None, "a.txt", None),
            (None, "/a.txt", Some("/a.txt")),
            (Some("home"), "x", Some("home/x")),
        ];
        for (cwd, path, want) in cases {
            let got = resolve(cwd.map(str::as_bytes), path.as_bytes());
            assert_eq!(got.as_deref(), want.map(str::as_bytes), "{cwd:?} {path}");
        }
        assert_eq!(parent(b"/pub/x"), b"/pub");
        assert_eq!(parent(b"/"), b"/");
    }
}
