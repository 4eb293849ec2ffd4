// List commands (Redis t_list.c): table entries and handlers.

import Foundation

let listCommands: [Command] = []
