//! The `${…}` placeholder syntax of `Fn::Sub`, shared by evaluation (which substitutes) and
//! dependency analysis (which needs the resources a string names).
//!
//! `${Name}` is a variable (parameter, pseudo parameter, resource or entry of the variable map);
//! `${Resource.Attr}` is a `GetAtt`; `${!Text}` is the escape for a literal `${Text}`. A `${`
//! without a closing brace is literal text, as in CloudFormation.

/// One piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits an `Fn::Sub` string into literal text and variable names (trimmed).
pub(crate) fn parse(s: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if let Some(escaped) = after.strip_prefix('!') {
            // `${!Literal}` → `${Literal}`: keep the `${`, drop the `!`, go on after it.
            parts.push(Part::Text(&rest[..start + 2]));
            rest = escaped;
            continue;
        }
        match after.find('}') {
            Some(end) => {
                if start > 0 {
                    parts.push(Part::Text(&rest[..start]));
                }
                parts.push(Part::Var(after[..end].trim()));
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    parts
}

/// The variable names of an `Fn::Sub` string.
pub(crate) fn variables(s: &str) -> impl Iterator<Item = &str> {
    parse(s).into_iter().filter_map(|p| match p {
        Part::Var(v) => Some(v),
        Part::Text(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::Part::{Text, Var};
    use super::*;

    #[test]
    fn splits_text_and_variables() {
        assert_eq!(
            parse("https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"),
            vec![
                Text("https://"),
                Var("Api"),
                Text(".execute-api."),
                Var("AWS::Region"),
                Text("."),
                Var("AWS::URLSuffix"),
                Text("/")
            ]
        );
        assert_eq!(parse("${A.Arn}"), vec![Var("A.Arn")]);
        assert_eq!(parse(""), Vec::<Part>::new());
    }

    #[test]
    fn escapes_and_unterminated_placeholders_are_text() {
        let joined = |s| {
            parse(s)
                .into_iter()
                .map(|p| match p {
                    Text(t) => t.to_string(),
                    Var(v) => format!("<{v}>"),
                })
                .collect::<String>()
        };
        assert_eq!(joined("a${!Literal}b"), "a${Literal}b");
        assert_eq!(joined("${!A}${B}"), "${A}<B>");
        assert_eq!(joined("x${open"), "x${open");
        assert_eq!(joined("$x {y} $"), "$x {y} $");
        assert_eq!(variables("${!A} ${B} ${ C }").collect::<Vec<_>>(), vec!["B", "C"]);
    }
}
