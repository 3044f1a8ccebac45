// Embeds the provider templates (providers/*.json) into FormiCore at build time: the built-in providers
// are data, in the same format users write (docs/templates.md), and a changed file rebuilds the library.
// (SwiftPM's resources would need Foundation's Bundle at run time, which the core does not link.)

import Foundation
import PackagePlugin

@main
struct EmbedProviders: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let templates = try FileManager.default.contentsOfDirectory(at: root.appending(path: "providers"), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.deletingPathExtension().lastPathComponent < $1.deletingPathExtension().lastPathComponent }
        let script = root.appending(path: "scripts/embed-providers.sh")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedProviders.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(templates.count) provider templates",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, output.path] + templates.map(\.path),
                inputFiles: templates + [script],
                outputFiles: [output]
            )
        ]
    }
}
