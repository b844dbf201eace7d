//! The view model's text: lines of pieces, each with a [`Tone`] that `render` and the
//! theme turn into colours.

/// What a piece of text is, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Ordinary text.
    Plain,
    /// Metadata, labels.
    Dim,
    /// A header name or JSON key.
    Key,
    /// A JSON string.
    Str,
    /// A JSON number.
    Num,
    /// `true`, `false`, `null`.
    Lit,
    /// Good news (valid, 2xx).
    Good,
    /// Bad news (invalid, 5xx).
    Bad,
    /// A warning (expired, cut, 4xx).
    Warn,
}

/// One line: pieces of text with their tones.
pub type Line = Vec<(Tone, String)>;
