// ZSet commands (Redis t_zset.c): table entries and handlers.

import Foundation

let zsetCommands: [Command] = []
