//! JSON values read out of text with the scanner: one value, an object member by member, an array element by
//! element, and the end of a document. Values come back as their raw text (strings still escaped).

use super::scan::{Result, Scanner};
use std::borrow::Cow;

/// Reads one JSON value at the start of `text` (after optional whitespace): the value's raw text and the offset
/// just after it. With `strict`, strings must be valid JSON strings throughout.
pub fn json_value(text: &str, strict: bool) -> Result<(&str, usize)> {
    let mut s = if strict { Scanner::strict(text) } else { Scanner::new(text) };
    let value = s.raw_value()?;
    Ok((value, s.pos))
}

/// Reads the JSON object at the start of `text` (after optional whitespace), handing each member to `member` as
/// it goes (key unescaped, value raw), and returns the offset just after the object. With `strict`, strings must
/// be valid JSON strings throughout.
pub fn json_object_with<'a>(
    text: &'a str,
    strict: bool,
    mut member: impl FnMut(Cow<'a, str>, &'a str),
) -> Result<usize> {
    let mut s = if strict { Scanner::strict(text) } else { Scanner::new(text) };
    if !s.open(b'{', b'}')? {
        loop {
            let key = s.string()?;
            s.expect(b':')?;
            member(key, s.raw_value()?);
            if !s.more(b'}')? {
                break;
            }
        }
    }
    Ok(s.pos)
}

/// Checks that only whitespace follows offset `end` of `text`.
pub fn json_end(text: &str, end: usize) -> Result<()> {
    Scanner { text, pos: end, strict: false }.end()
}

/// The elements of the JSON array that is the whole of `text`, raw (strings read leniently: what matters is
/// checked strictly where it is used).
pub fn json_elements(text: &str) -> Result<Vec<&str>> {
    let mut elements = Vec::new();
    json_elements_with(text, |e| elements.push(e))?;
    Ok(elements)
}

/// [`json_elements`], handing each element to `element` as it goes instead of collecting them: an array of
/// millions of elements costs no list. Returns the number of elements.
pub fn json_elements_with<'a>(text: &'a str, mut element: impl FnMut(&'a str)) -> Result<usize> {
    let mut s = Scanner::new(text);
    let mut n = 0;
    if !s.open(b'[', b']')? {
        loop {
            element(s.raw_value()?);
            n += 1;
            if !s.more(b']')? {
                break;
            }
        }
    }
    s.end()?;
    Ok(n)
}
