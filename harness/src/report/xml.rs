//! Escaping for the hand-written XML of the JUnit report and the SVG timeline.

/// `s` made safe as XML character data or as a double- or single-quoted attribute value.
///
/// Escapes the five markup characters, writes tab, newline and carriage return as
/// character references (so attribute values keep them instead of having them
/// normalized to spaces), and replaces every other character XML 1.0 forbids (other
/// C0 controls, U+FFFE, U+FFFF) with U+FFFD.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` escaped as character data of an element whose line breaks should stay readable
/// in the file: like [`escape`] but newlines and tabs are kept as they are.
pub(crate) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for part in s.split_inclusive('\n') {
        let (body, nl) = match part.strip_suffix('\n') {
            Some(b) => (b, true),
            None => (part, false),
        };
        out.push_str(&escape(body).replace("&#9;", "\t"));
        if nl {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod wellformed {
    //! A small structural XML checker for the tests: balanced tags, quoted attributes
    //! with no raw markup inside, and only known entity references.

    /// Checks `xml` and returns the element names in document order.
    pub(crate) fn check(xml: &str) -> Result<Vec<String>, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = xml;
        let mut roots = 0;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt])?;
            rest = &rest[lt..];
            if let Some(r) = rest.strip_prefix("<?") {
                let end = r.find("?>").ok_or("unterminated declaration")?;
                rest = &r[end + 2..];
                continue;
            }
            if let Some(r) = rest.strip_prefix("<!--") {
                let end = r.find("-->").ok_or("unterminated comment")?;
                rest = &r[end + 3..];
                continue;
            }
            let gt = tag_end(rest)?;
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or(format!("stray </{name}>"))?;
                if open != name.trim() {
                    return Err(format!("<{open}> closed by </{name}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty() {
                return Err(format!("empty tag name in <{tag}>"));
            }
            check_attrs(&body[name_end..])?;
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.to_string());
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        check_text(rest)?;
        if let Some(open) = stack.pop() {
            return Err(format!("<{open}> never closed"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(names)
    }

    /// Index of the `>` ending the tag at the start of `s`, skipping quoted values.
    fn tag_end(s: &str) -> Result<usize, String> {
        let mut quote: Option<char> = None;
        for (i, c) in s.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some(_), '<') => return Err("raw < in an attribute value".into()),
                (None, '<') => return Err("< inside a tag".into()),
                (None, '>') => return Ok(i),
                _ => {}
            }
        }
        Err("unterminated tag".into())
    }

    fn check_attrs(s: &str) -> Result<(), String> {
        let mut rest = s.trim();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or(format!("attribute without value: {rest}"))?;
            let after = rest[eq + 1..].trim_start();
            let q = after.chars().next().ok_or("missing attribute value")?;
            if q != '"' && q != '\'' {
                return Err(format!("unquoted attribute value: {after}"));
            }
            let close = after[1..].find(q).ok_or("unterminated attribute value")?;
            check_text(&after[1..1 + close])?;
            rest = after[close + 2..].trim_start();
        }
        Ok(())
    }

    fn check_text(s: &str) -> Result<(), String> {
        if s.contains("]]>") {
            return Err("]]> in text".into());
        }
        let mut rest = s;
        while let Some(amp) = rest.find('&') {
            let r = &rest[amp + 1..];
            let semi = r.find(';').ok_or(format!("bare & in {s:?}"))?;
            let ent = &r[..semi];
            let known = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !known {
                return Err(format!("unknown entity &{ent}; in {s:?}"));
            }
            rest = &r[semi + 1..];
        }
        Ok(())
    }

    #[test]
    fn checker_rejects_broken_xml() {
        assert!(check("<a><b/></a>").is_ok());
        assert!(check("<a><b></a>").is_err());
        assert!(check("<a>x & y</a>").is_err());
        assert!(check("<a t=\"<\"/>").is_err());
        assert!(check("<a t=x/>").is_err());
        assert!(check("<a/><b/>").is_err());
        assert!(check("<a>&foo;</a>").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("a\nb\tc\rd"), "a&#10;b&#9;c&#13;d");
        assert_eq!(escape("bell\u{7}\u{FFFF}"), "bell\u{FFFD}\u{FFFD}");
        assert_eq!(escape("≥ ünïcödé"), "≥ ünïcödé");
        assert_eq!(escape_text("a<b\n\tc&d\n"), "a&lt;b\n\tc&amp;d\n");
        assert!(wellformed::check(&format!(
            "<a t=\"{}\">{}</a>",
            escape("\"'<>&"),
            escape("]]>")
        ))
        .is_ok());
    }
}
