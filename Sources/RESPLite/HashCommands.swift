// Hash commands (Redis t_hash.c): table entries and handlers.

import Foundation

let hashCommands: [Command] = []
