//! caxton_tool.zig: write a Caxton tool in Zig as one function per MCP tool.
//!
//! A Caxton tool is a WASI preview1 program that speaks MCP (newline-delimited JSON-RPC 2.0)
//! over stdin and stdout; see docs/tools.md. `serve` runs that loop: it answers `initialize`,
//! `tools/list` and `tools/call`, hands each handler its arguments and sends back what it wrote.
//!
//!     const cx = @import("caxton_tool");
//!
//!     fn count(args: *const cx.Args, out: *cx.Out) !void {
//!         const text = args.string("text") orelse return out.fail("`text` (a string) is required");
//!         try out.print("{d} bytes", .{text.len});
//!     }
//!
//!     pub fn main() void {
//!         cx.serve("count", "0.1.0", &.{.{
//!             .name = "count",
//!             .description = "Count the bytes of a text.",
//!             .input_schema =
//!             \\{"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
//!             ,
//!             .handler = count,
//!         }});
//!     }
//!
//! Build (`caxton tool build` does this for a workspace tool):
//!
//!     python -m ziglang build-exe -target wasm32-wasi -O ReleaseSmall -fstrip --stack 1048576 \
//!         --dep caxton_tool -Mroot=count.zig -Mcaxton_tool=caxton_tool.zig
//!
//! The stack flag matters: the default 16 MiB stack makes every instance start with 16 MiB of
//! memory. Everything a call allocates comes from one arena, freed when the call is answered.

const std = @import("std");
const builtin = @import("builtin");

const json = std.json;
const wasi = std.os.wasi;
const Allocator = std.mem.Allocator;
const Writer = std.Io.Writer;

comptime {
    if (builtin.os.tag != .wasi) {
        @compileError("caxton_tool.zig is for wasm32-wasi: build with `-target wasm32-wasi`");
    }
}

pub const protocol_version = "2025-06-18";

/// Return normally for a result; return an error (`out.fail` is the usual way) to mark it
/// `isError`: the tool ran but the operation failed, and the agent sees what was written.
pub const Handler = *const fn (args: *const Args, out: *Out) anyerror!void;

pub const Tool = struct {
    name: []const u8,
    description: []const u8,
    /// A JSON Schema object, as JSON text; the same schema belongs in tool.toml.
    input_schema: []const u8 = "{\"type\":\"object\"}",
    handler: Handler,
};

/// The `arguments` object of a call. Every getter returns null when the key is absent or its
/// value has another JSON type.
pub const Args = struct {
    /// Memory for this call; freed when the call is answered, so nothing needs freeing.
    allocator: Allocator,
    object: json.ObjectMap,

    /// The raw value; numbers come as `.number_string` (their JSON text): use `number`.
    pub fn value(args: *const Args, key: []const u8) ?json.Value {
        return args.object.get(key);
    }

    pub fn string(args: *const Args, key: []const u8) ?[]const u8 {
        return switch (args.value(key) orelse return null) {
            .string => |s| s,
            else => null,
        };
    }

    pub fn number(args: *const Args, key: []const u8) ?f64 {
        return switch (args.value(key) orelse return null) {
            .integer => |i| @floatFromInt(i),
            .float => |f| f,
            .number_string => |s| std.fmt.parseFloat(f64, s) catch null,
            else => null,
        };
    }

    /// A whole number; 3.0 counts, 3.5 does not.
    pub fn integer(args: *const Args, key: []const u8) ?i64 {
        const f: f64 = switch (args.value(key) orelse return null) {
            .integer => |i| return i,
            .float => |f| f,
            .number_string => |s| return std.fmt.parseInt(i64, s, 10) catch
                wholeNumber(std.fmt.parseFloat(f64, s) catch return null),
            else => return null,
        };
        return wholeNumber(f);
    }

    pub fn boolean(args: *const Args, key: []const u8) ?bool {
        return switch (args.value(key) orelse return null) {
            .bool => |b| b,
            else => null,
        };
    }

    /// The items of an array; check each one's type (`.string`, `.number_string`, ...).
    pub fn array(args: *const Args, key: []const u8) ?[]const json.Value {
        return switch (args.value(key) orelse return null) {
            .array => |a| a.items,
            else => null,
        };
    }
};

fn wholeNumber(f: f64) ?i64 {
    return if (@trunc(f) == f and @abs(f) < 9.2e18) @intFromFloat(f) else null;
}

/// The text of the result: everything written here becomes its one `text` content item.
pub const Out = struct {
    /// Memory for this call, the same arena as `Args.allocator`.
    allocator: Allocator,
    buffer: Writer.Allocating,

    pub fn writer(out: *Out) *Writer {
        return &out.buffer.writer;
    }

    pub fn write(out: *Out, bytes: []const u8) Writer.Error!void {
        try out.buffer.writer.writeAll(bytes);
    }

    pub fn print(out: *Out, comptime format: []const u8, args: anytype) Writer.Error!void {
        try out.buffer.writer.print(format, args);
    }

    /// Any value as JSON text (structs, slices, `std.json.Value`...), for tools that answer JSON.
    pub fn writeJson(out: *Out, v: anytype) Writer.Error!void {
        try json.Stringify.value(v, .{}, &out.buffer.writer);
    }

    /// Replace the output with `message` and fail the call: `return out.fail("why");`
    pub fn fail(out: *Out, message: []const u8) error{ToolFailed} {
        out.buffer.clearRetainingCapacity();
        out.buffer.writer.writeAll(message) catch {};
        return error.ToolFailed;
    }

    /// `fail` with a formatted message.
    pub fn failf(out: *Out, comptime format: []const u8, args: anytype) error{ToolFailed} {
        out.buffer.clearRetainingCapacity();
        out.buffer.writer.print(format, args) catch {};
        return error.ToolFailed;
    }

    pub fn written(out: *Out) []const u8 {
        return out.buffer.written();
    }
};

// Numbers stay JSON text: ids are echoed exactly, and a tool that reads no number carries no
// float-parsing code (about 25 KiB).
const parse_options: json.ParseOptions = .{ .parse_numbers = false, .duplicate_field_behavior = .use_last };

const Server = struct {
    name: []const u8,
    version: []const u8,
    tools: []const Tool,
};

/// Answer JSON-RPC requests from stdin, one per line, until end of file.
pub fn serve(name: []const u8, version: []const u8, tools: []const Tool) void {
    const server: Server = .{ .name = name, .version = version, .tools = tools };
    const gpa = std.heap.wasm_allocator;
    var pending: std.ArrayList(u8) = .empty;
    var scanned: usize = 0; // bytes of `pending` known to hold no newline
    while (true) {
        pending.ensureUnusedCapacity(gpa, 64 * 1024) catch fatal("out of memory reading stdin");
        const got = readStdin(pending.unusedCapacitySlice());
        if (got == 0) break;
        pending.items.len += got;
        var begin: usize = 0;
        while (std.mem.indexOfScalarPos(u8, pending.items, @max(begin, scanned), '\n')) |end| {
            handleLine(gpa, &server, pending.items[begin..end]);
            begin = end + 1;
        }
        const rest = pending.items.len - begin;
        std.mem.copyForwards(u8, pending.items[0..rest], pending.items[begin..]);
        pending.items.len = rest;
        scanned = rest;
    }
    handleLine(gpa, &server, pending.items); // a last line without its newline
    pending.deinit(gpa);
}

fn handleLine(gpa: Allocator, server: *const Server, line: []const u8) void {
    const trimmed = std.mem.trim(u8, line, " \t\r");
    if (trimmed.len == 0) return;
    var arena = std.heap.ArenaAllocator.init(gpa);
    defer arena.deinit();
    const a = arena.allocator();
    var reply: Writer.Allocating = .init(a);
    respond(a, server, trimmed, &reply.writer) catch fatal("out of memory writing a response");
    if (reply.written().len == 0) return; // a notification
    reply.writer.writeByte('\n') catch fatal("out of memory writing a response");
    writeAll(1, reply.written());
}

fn respond(a: Allocator, server: *const Server, line: []const u8, w: *Writer) !void {
    const message = json.parseFromSliceLeaky(json.Value, a, line, parse_options) catch |err| switch (err) {
        error.OutOfMemory => return error.OutOfMemory,
        else => return writeError(w, .null, -32700, "parse error: the line is not JSON"),
    };
    const request = switch (message) {
        .object => |o| o,
        else => return writeError(w, .null, -32600, "a request must be a JSON object"),
    };
    const id = request.get("id") orelse return; // a notification: no answer
    const method = switch (request.get("method") orelse .null) {
        .string => |s| s,
        else => return writeError(w, id, -32600, "a request needs a method"),
    };
    const params: json.ObjectMap = switch (request.get("params") orelse .null) {
        .object => |o| o,
        else => .empty,
    };
    if (std.mem.eql(u8, method, "initialize")) {
        var s = try beginResult(w, id);
        try s.write(.{
            .protocolVersion = protocol_version,
            .capabilities = .{ .tools = struct {}{} },
            .serverInfo = .{ .name = server.name, .version = server.version },
        });
        try s.endObject();
    } else if (std.mem.eql(u8, method, "tools/list")) {
        const schemas = try a.alloc(json.Value, server.tools.len);
        for (server.tools, schemas) |tool, *schema| {
            schema.* = json.parseFromSliceLeaky(json.Value, a, tool.input_schema, parse_options) catch {
                const why = try std.fmt.allocPrint(a, "the input schema of tool '{s}' is not JSON", .{tool.name});
                return writeError(w, id, -32603, why);
            };
        }
        var s = try beginResult(w, id);
        try s.beginObject();
        try s.objectField("tools");
        try s.beginArray();
        for (server.tools, schemas) |tool, schema| {
            try s.write(.{ .name = tool.name, .description = tool.description, .inputSchema = schema });
        }
        try s.endArray();
        try s.endObject();
        try s.endObject();
    } else if (std.mem.eql(u8, method, "tools/call")) {
        const name = switch (params.get("name") orelse .null) {
            .string => |s| s,
            else => return writeError(w, id, -32602, "params.name is required"),
        };
        const tool = for (server.tools) |t| {
            if (std.mem.eql(u8, t.name, name)) break t;
        } else {
            return writeError(w, id, -32602, try std.fmt.allocPrint(a, "unknown tool '{s}'", .{name}));
        };
        const arguments: json.ObjectMap = switch (params.get("arguments") orelse json.Value{ .object = .empty }) {
            .object => |o| o,
            else => return writeError(w, id, -32602, "params.arguments must be an object"),
        };
        const args: Args = .{ .allocator = a, .object = arguments };
        var out: Out = .{ .allocator = a, .buffer = .init(a) };
        var failed = false;
        tool.handler(&args, &out) catch |err| {
            failed = true;
            if (err != error.ToolFailed and out.written().len == 0) {
                try out.print("{s} failed: {s}", .{ tool.name, @errorName(err) });
            }
        };
        var s = try beginResult(w, id);
        try s.write(.{
            .content = .{.{ .type = "text", .text = out.written() }},
            .isError = failed,
        });
        try s.endObject();
    } else {
        return writeError(w, id, -32601, try std.fmt.allocPrint(a, "method not found: {s}", .{method}));
    }
}

/// `{"jsonrpc":"2.0","id":...,"result":` written; the caller writes the result and closes.
fn beginResult(w: *Writer, id: json.Value) Writer.Error!json.Stringify {
    var s: json.Stringify = .{ .writer = w };
    try s.beginObject();
    try s.objectField("jsonrpc");
    try s.write("2.0");
    try s.objectField("id");
    try s.write(id);
    try s.objectField("result");
    return s;
}

fn writeError(w: *Writer, id: json.Value, code: i32, message: []const u8) Writer.Error!void {
    try json.Stringify.value(.{
        .jsonrpc = "2.0",
        .id = id,
        .@"error" = .{ .code = code, .message = message },
    }, .{}, w);
}

fn readStdin(buffer: []u8) usize {
    var iov = [_]wasi.iovec_t{.{ .base = buffer.ptr, .len = buffer.len }};
    while (true) {
        var got: usize = 0;
        switch (wasi.fd_read(0, &iov, iov.len, &got)) {
            .SUCCESS => return got,
            .INTR, .AGAIN => continue,
            else => return 0, // a closed or unreadable stdin ends the session
        }
    }
}

fn writeAll(fd: wasi.fd_t, bytes: []const u8) void {
    var rest = bytes;
    while (rest.len > 0) {
        const iov = [_]wasi.ciovec_t{.{ .base = rest.ptr, .len = rest.len }};
        var wrote: usize = 0;
        switch (wasi.fd_write(fd, &iov, iov.len, &wrote)) {
            .SUCCESS => rest = rest[wrote..],
            .INTR, .AGAIN => {},
            else => return, // nobody is listening: nothing useful is left to do
        }
    }
}

fn fatal(message: []const u8) noreturn {
    writeAll(2, "caxton_tool: ");
    writeAll(2, message);
    writeAll(2, "\n");
    wasi.proc_exit(70);
}
