// Set commands (Redis t_set.c): table entries and handlers.

import Foundation

let setCommands: [Command] = []
