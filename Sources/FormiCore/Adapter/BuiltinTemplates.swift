// The built-in providers: templates in the same JSON format users write (docs/templates.md), one file
// each in providers/, embedded at build time by the EmbedProviders plugin. Adding a provider is adding
// a file.

public enum BuiltinTemplates {
    /// The built-in providers' names (their file names), sorted.
    public static let names: [String] = EmbeddedProviders.templates.map(\.name)

    /// The template's JSON text, by name.
    public static func json(named name: String) -> String? {
        EmbeddedProviders.templates.first { $0.name == name }?.json
    }
}
