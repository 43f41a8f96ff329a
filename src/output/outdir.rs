//! Folders we write into, held as open directory handles (cap-std), so that nothing planted on
//! disk can steer a write elsewhere.
//!
//! ftpscope runs as root on traffic chosen by others, into folders such as `/tmp/ftp` where
//! other users may have planted links or swap a folder for a link while it runs. Every file
//! and folder it makes is therefore created *beneath a handle*:
//!
//! - the folder the user names is opened once; its last component must be a real folder (a
//!   symbolic link there is refused), what comes before it is the user's own choice;
//! - below it, each folder is made with `mkdirat` and opened with `O_NOFOLLOW` one component
//!   at a time (cap-std's `open_dir_nofollow`, resolved beneath the parent with `openat2`'s
//!   `RESOLVE_BENEATH` where the kernel has it): a link, a file or `..` in the way is an error
//!   naming the path, never followed;
//! - files are created with `O_CREAT | O_EXCL` (never an existing file, never through a link)
//!   and read back with `O_NOFOLLOW`; a finished file is moved to its name by `linkat`, which
//!   never replaces an existing entry.
//!
//! Swapping a folder for a link after we opened it changes nothing: we hold the folder itself,
//! not its name.

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, OpenOptions, OpenOptionsExt};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Component, Path, PathBuf};

/// An open folder we may write into, and the path it was opened at (for messages and records).
#[derive(Debug)]
pub struct OutDir {
    dir: Dir,
    path: PathBuf,
}

impl OutDir {
    /// Opens the folder the user named, creating it (and its parents) when missing. Its last
    /// component is opened without following a link: a link planted at `/tmp/ftp` is refused.
    pub fn open_or_create(path: &Path) -> io::Result<OutDir> {
        match std::fs::create_dir_all(path) {
            Ok(()) => {}
            // A link (or a file) where the folder should be: said below, by the open.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(annotate(e, path, "cannot create")),
        }
        let dir = match (path.parent(), path.file_name()) {
            (Some(parent), Some(last)) => {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                Dir::open_ambient_dir(parent, ambient_authority())
                    .and_then(|p| p.open_dir_nofollow(last))
            }
            // `/`, `.`, `..`: no last name to check.
            _ => Dir::open_ambient_dir(path, ambient_authority()),
        };
        let dir = dir.map_err(|e| not_a_folder(e, path))?;
        Ok(OutDir {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The path this folder was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder `rel` below this one, made where missing, each component opened without
    /// following a link. `rel` must be relative and plain (no `..`, no root).
    pub fn subdir(&self, rel: &Path) -> io::Result<OutDir> {
        let mut dir = self.dir.try_clone()?;
        let mut path = self.path.clone();
        for name in plain_components(rel)? {
            path.push(name);
            match dir.create_dir(name) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(annotate(e, &path, "cannot create")),
            }
            dir = dir
                .open_dir_nofollow(name)
                .map_err(|e| not_a_folder(e, &path))?;
        }
        Ok(OutDir { dir, path })
    }

    /// The existing folder `rel` below this one, opened without following a link (never made).
    pub fn existing_subdir(&self, rel: &Path) -> io::Result<OutDir> {
        let mut dir = self.dir.try_clone()?;
        let mut path = self.path.clone();
        for name in plain_components(rel)? {
            path.push(name);
            dir = dir
                .open_dir_nofollow(name)
                .map_err(|e| not_a_folder(e, &path))?;
        }
        Ok(OutDir { dir, path })
    }

    /// A new folder of our own inside this one: a random name starting with `prefix`, mode
    /// 0700, never one that existed before.
    pub fn private_subdir(&self, prefix: &str) -> io::Result<OutDir> {
        let mut builder = DirBuilder::new();
        builder.mode(0o700);
        for _ in 0..100 {
            let name = format!("{prefix}{}", random_suffix());
            match self.dir.create_dir_with(&name, &builder) {
                Ok(()) => {
                    let path = self.path.join(&name);
                    let dir = self
                        .dir
                        .open_dir_nofollow(&name)
                        .map_err(|e| not_a_folder(e, &path))?;
                    return Ok(OutDir { dir, path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(annotate(e, &self.path.join(&name), "cannot create")),
            }
        }
        Err(io::Error::other(format!(
            "cannot create a private folder in {}",
            self.path.display()
        )))
    }

    /// Creates the file `name` here, exclusively (never an existing file, never through a
    /// link), readable by its owner only when `private`.
    pub fn create_new(&self, name: &str, private: bool) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        if private {
            options.mode(0o600);
        }
        self.dir
            .open_with(single(name)?, &options)
            .map(cap_std::fs::File::into_std)
    }

    /// Opens the existing file `name` here to add to its end (and read it), only when it is
    /// safe to: not
    /// through a link (`O_NOFOLLOW`), a regular file (a FIFO or a device is not even waited
    /// for: `O_NONBLOCK`), with one name only (a hard link planted here could lead to anyone's
    /// file), owned by this process's user, and private (0600 or less, as ftpscope made it).
    /// `Ok(None)` when there is no such file or it is not one we may add to; the caller then
    /// writes a new file instead.
    pub fn open_append(&self, name: &str) -> io::Result<Option<File>> {
        use std::os::unix::fs::MetadataExt;
        let mut options = OpenOptions::new();
        options
            .read(true)
            .append(true)
            .follow(FollowSymlinks::No)
            .custom_flags(libc::O_NONBLOCK);
        let file = match self.dir.open_with(single(name)?, &options) {
            Ok(f) => f.into_std(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // A link there (ELOOP), a folder, a FIFO without a reader (ENXIO): not ours.
            Err(_) => return Ok(None),
        };
        let meta = file.metadata()?;
        // SAFETY: geteuid takes nothing, touches no memory and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let ours =
            meta.is_file() && meta.nlink() == 1 && meta.uid() == euid && meta.mode() & 0o077 == 0;
        Ok(ours.then_some(file))
    }

    /// Creates `name`, or `stem (n).ext` if taken, never overwriting: the path and the file
    /// (readable by its owner only: what crossed the wire may be secret).
    pub fn create_unique(&self, name: &str) -> io::Result<(PathBuf, File)> {
        for candidate in candidates(name) {
            match self.create_new(&candidate, true) {
                Ok(f) => return Ok((self.path.join(candidate), f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(annotate(e, &self.path.join(candidate), "cannot create")),
            }
        }
        Err(no_free_name(&self.path, name))
    }

    /// Opens the file `rel` below this folder for reading, following no link on the way.
    pub fn open_read(&self, rel: &Path) -> io::Result<File> {
        let (parent, name) = split_last(rel)?;
        let dir = self.existing_subdir(parent)?;
        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No);
        dir.dir
            .open_with(name, &options)
            .map(cap_std::fs::File::into_std)
    }

    /// Moves the file `temp` of folder `from` here as `name`, or `stem (n).ext` if taken,
    /// never overwriting: the final path.
    ///
    /// A hard link to the new name, then removing the temporary one: linking never replaces
    /// an existing entry. Renaming over an exclusively created empty placeholder would do the
    /// same, but ext4 takes a rename over an existing file for a "replace via rename" and
    /// writes the file's data out at once (`auto_da_alloc`), on the calling thread: 4 % of the
    /// parsing thread with `-x` on the 1 GiB benchmark capture. Where hard links are not
    /// supported, the placeholder and rename it is.
    pub fn place(&self, from: &OutDir, temp: &str, name: &str) -> io::Result<PathBuf> {
        for candidate in candidates(name) {
            match from.dir.hard_link(temp, &self.dir, single(&candidate)?) {
                Ok(()) => {
                    from.dir.remove_file(temp)?;
                    return Ok(self.path.join(candidate));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(_) => return self.place_by_rename(from, temp, name),
            }
        }
        Err(no_free_name(&self.path, name))
    }

    fn place_by_rename(&self, from: &OutDir, temp: &str, name: &str) -> io::Result<PathBuf> {
        let (path, _placeholder) = self.create_unique(name)?;
        let placed = path.file_name().unwrap_or_default();
        // Over the empty placeholder we just created exclusively: nobody else's file.
        from.dir.rename(temp, &self.dir, placed)?;
        Ok(path)
    }

    /// Replaces the file `name` here by `temp` (of this folder): `rename`, which replaces the
    /// name, never what a link there points to.
    pub fn replace(&self, temp: &str, name: &str) -> io::Result<()> {
        self.dir.rename(single(temp)?, &self.dir, single(name)?)
    }

    /// Removes the file `name` here (a link there is removed, not what it points to).
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        self.dir.remove_file_or_symlink(single(name)?)
    }

    /// Removes the empty folder `name` here.
    pub fn remove_dir(&self, name: &str) -> io::Result<()> {
        self.dir.remove_dir(single(name)?)
    }

    /// Removes this folder and all it holds (what was made inside it, links not followed).
    pub fn remove_all(self) -> io::Result<()> {
        self.dir.remove_open_dir_all()
    }

    /// Another handle on the same folder.
    pub fn try_clone(&self) -> io::Result<OutDir> {
        Ok(OutDir {
            dir: self.dir.try_clone()?,
            path: self.path.clone(),
        })
    }
}

/// Creates the file at `path` the way every file ftpscope names for the user is made (`-w`):
/// beneath a handle on its folder (made when missing), new (`O_EXCL`: an existing file is an
/// error, never overwritten), never through a link, readable by its owner only (0600). The
/// error names the path and, when something is already there, says what to do. The folder's
/// handle and the name come back too, to remove the file if the run cannot go on.
pub fn create_new_file(path: &Path) -> io::Result<(OutDir, String, File)> {
    let shown = path.display();
    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write {shown}: give a file name (UTF-8)"),
        ));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    OutDir::open_or_create(parent)
        .and_then(|dir| {
            let file = dir.create_new(name, true)?;
            Ok((dir, name.to_owned(), file))
        })
        .map_err(|e| {
            let message = match e.kind() {
                io::ErrorKind::AlreadyExists => format!(
                    "cannot write {shown}: it already exists (ftpscope never overwrites a file \
                     nor follows a link; remove it or choose another name)"
                ),
                _ => format!("cannot write {shown}: {e}"),
            };
            io::Error::new(e.kind(), message)
        })
}

/// `name`, then `stem (2).ext`, `stem (3).ext` ... : the names tried for a file, in order.
fn candidates(name: &str) -> impl Iterator<Item = String> + '_ {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    (1..10_000u32).map(move |n| {
        if n == 1 {
            name.to_owned()
        } else {
            format!("{stem} ({n}){ext}")
        }
    })
}

/// The components of a relative path with nothing but plain names.
fn plain_components(rel: &Path) -> io::Result<Vec<&std::ffi::OsStr>> {
    rel.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} leaves the output folder", rel.display()),
            )),
        })
        .collect()
}

/// A relative path split into its folder and its plain last name.
fn split_last(rel: &Path) -> io::Result<(&Path, &std::ffi::OsStr)> {
    match plain_components(rel)?.last() {
        Some(name) => Ok((rel.parent().unwrap_or(Path::new("")), name)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an empty file name",
        )),
    }
}

/// A name that must be one plain component.
fn single(name: &str) -> io::Result<&str> {
    match plain_components(Path::new(name))?.as_slice() {
        [_] => Ok(name),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name} is not a plain file name"),
        )),
    }
}

/// 16 hex digits no other process can guess: the standard library's hasher keys are drawn
/// from the operating system's random source.
fn random_suffix() -> String {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

fn no_free_name(dir: &Path, name: &str) -> io::Error {
    io::Error::other(format!("no free name for {name} in {}", dir.display()))
}

fn annotate(e: io::Error, path: &Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// An open that found something other than a folder: a link or a file in the way.
fn not_a_folder(e: io::Error, path: &Path) -> io::Error {
    let refused = e.raw_os_error() == Some(libc::ELOOP) || e.kind() == io::ErrorKind::NotADirectory;
    if refused {
        io::Error::new(
            e.kind(),
            format!(
                "{} is not a folder (a link or a file is in the way; ftpscope never follows one)",
                path.display()
            ),
        )
    } else {
        annotate(e, path, "cannot open")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A fresh folder for a test, and one outside it that links will point at; both are
    /// removed when the returned guard is dropped (keep it bound while they are used).
    fn folders(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = crate::transfers::testing::temp_dir(&format!("outdir-{name}"));
        let (out, victim) = (tmp.path().join("out"), tmp.path().join("victim"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("precious"), "precious").unwrap();
        (tmp, out, victim)
    }

    fn untouched(victim: &Path) {
        let names: Vec<_> = std::fs::read_dir(victim)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["precious"]);
        assert_eq!(
            std::fs::read_to_string(victim.join("precious")).unwrap(),
            "precious"
        );
    }

    #[test]
    fn a_link_or_a_file_where_a_folder_goes_is_an_error() {
        let (_tmp, out, victim) = folders("subdir");
        symlink(&victim, out.join("session-1")).unwrap();
        std::fs::create_dir(out.join("session-2")).unwrap();
        symlink("../session-1", out.join("session-2/inner")).unwrap();
        std::fs::write(out.join("file"), "x").unwrap();
        let root = OutDir::open_or_create(&out).unwrap();
        for rel in ["session-1", "session-1/a", "session-2/inner/a", "file/a"] {
            let e = root.subdir(Path::new(rel)).unwrap_err();
            assert!(
                e.to_string()
                    .contains("is not a folder (a link or a file is in the way"),
                "{rel}: {e}"
            );
        }
        for rel in ["../x", "/etc", "a/../../x"] {
            let e = root.subdir(Path::new(rel)).unwrap_err();
            assert!(
                e.to_string().contains("leaves the output folder"),
                "{rel}: {e}"
            );
        }
        let sub = root.subdir(Path::new("session-3/./a/b")).unwrap();
        assert_eq!(sub.path(), out.join("session-3/a/b"));
        assert!(out.join("session-3/a/b").is_dir());
        untouched(&victim);
    }

    #[test]
    fn files_are_new_private_and_never_through_a_link() {
        let (_tmp, out, victim) = folders("files");
        symlink(victim.join("precious"), out.join("f.txt")).unwrap();
        symlink(victim.join("absent"), out.join("f (2).txt")).unwrap();
        let root = OutDir::open_or_create(&out).unwrap();
        let (path, mut f) = root.create_unique("f.txt").unwrap();
        std::io::Write::write_all(&mut f, b"new").unwrap();
        assert_eq!(path, out.join("f (3).txt"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            root.create_new("a/b", false).is_err(),
            "one plain name only"
        );
        // Reading back never follows a link either.
        assert!(root.open_read(Path::new("f.txt")).is_err());
        assert!(root.open_read(Path::new("f (3).txt")).is_ok());
        untouched(&victim);
    }

    #[test]
    fn placing_never_overwrites_nor_follows() {
        let (_tmp, out, victim) = folders("place");
        let root = OutDir::open_or_create(&out).unwrap();
        let partial = root.private_subdir(".partial-").unwrap();
        let dest = root.subdir(Path::new("d")).unwrap();
        symlink(victim.join("precious"), out.join("d/f.txt")).unwrap();
        let mut placed = Vec::new();
        for i in 0..3 {
            let temp = format!("temp-{i}");
            std::io::Write::write_all(&mut partial.create_new(&temp, true).unwrap(), b"x").unwrap();
            placed.push(if i == 1 {
                dest.place_by_rename(&partial, &temp, "f.txt").unwrap()
            } else {
                dest.place(&partial, &temp, "f.txt").unwrap()
            });
        }
        assert_eq!(
            placed,
            [
                out.join("d/f (2).txt"),
                out.join("d/f (3).txt"),
                out.join("d/f (4).txt")
            ]
        );
        assert!(
            std::fs::symlink_metadata(out.join("d/f.txt"))
                .unwrap()
                .is_symlink()
        );
        assert_eq!(std::fs::read_dir(partial.path()).unwrap().count(), 0);
        untouched(&victim);
    }

    #[test]
    fn private_folders_are_new_random_and_0700() {
        let (_tmp, out, _) = folders("private");
        let root = OutDir::open_or_create(&out).unwrap();
        let a = root.private_subdir(".p-").unwrap();
        let b = root.private_subdir(".p-").unwrap();
        assert_ne!(a.path(), b.path());
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        a.remove_all().unwrap();
        assert!(!out.join(".p-").exists() && b.path().exists());
    }

    #[test]
    fn the_named_folder_may_not_be_a_link() {
        let (_tmp, out, victim) = folders("root");
        let link = out.join("link");
        symlink(&victim, &link).unwrap();
        let e = OutDir::open_or_create(&link).unwrap_err();
        assert!(e.to_string().contains("is not a folder"), "{e}");
        std::fs::write(out.join("plain"), "x").unwrap();
        assert!(OutDir::open_or_create(&out.join("plain")).is_err());
        // Missing folders are made; a relative name works.
        let deep = out.join("a/b/c");
        assert_eq!(OutDir::open_or_create(&deep).unwrap().path(), deep);
        untouched(&victim);
    }
}
