// Full-text search (FT.*) on SQLite FTS5: table entries and handlers.

import Foundation

let searchCommands: [Command] = []
