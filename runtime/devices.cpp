#include "runtime/devices.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace imgbuild::runtime {
namespace {

constexpr DeviceRule kDefaultRules[] = {
    // mknod of anything (CAP_MKNOD stays). Two rules, not one 'a': in v1's devices.allow
    // "a ..." means "allow everything", whatever access it names.
    {'c', kAnyDeviceNumber, kAnyDeviceNumber, "m"},
    {'b', kAnyDeviceNumber, kAnyDeviceNumber, "m"},
    {'c', 1, 3, "rwm"},                              // null
    {'c', 1, 5, "rwm"},                              // zero
    {'c', 1, 7, "rwm"},                              // full
    {'c', 1, 8, "rwm"},                              // random
    {'c', 1, 9, "rwm"},                              // urandom
    {'c', 5, 0, "rwm"},                              // tty
    {'c', 5, 1, "rwm"},                              // console
    {'c', 5, 2, "rwm"},                              // ptmx
    {'c', 136, kAnyDeviceNumber, "rwm"},             // pts/*
};

uint32_t access_bits(const std::string& access) {
    uint32_t bits = 0;
    for (char c : access) {
        if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
        if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
        if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    }
    return bits;
}

constexpr uint32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

// eBPF instruction builders (the uapi has no macros for them).
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
bpf_insn load_word(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0); }
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn jne_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

long sys_bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof *attr); }

// "ibdev_" and a hash of the instructions (15 characters, BPF_OBJ_NAME_LEN - 1): how a
// program attached to a parent cgroup is known to be this build's, or another one's.
constexpr std::string_view kProgramNamePrefix = "ibdev_";

std::string program_name(const std::vector<bpf_insn>& program) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across builds and runs
    const auto* bytes = reinterpret_cast<const unsigned char*>(program.data());
    for (size_t i = 0; i < program.size() * sizeof(bpf_insn); ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return std::string(kProgramNamePrefix) + std::string(hex, 9);
}

const std::vector<bpf_insn>& default_program() {
    static const std::vector<bpf_insn> program = device_filter_program(default_device_rules());
    return program;
}

long load(const std::vector<bpf_insn>& program, char* log, uint32_t log_size) {
    static char license[] = "Apache-2.0";
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    std::string name = program_name(program);
    std::memcpy(attr.prog_name, name.c_str(), std::min(name.size(), sizeof attr.prog_name - 1));
    attr.insns = reinterpret_cast<uint64_t>(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = reinterpret_cast<uint64_t>(license);
    if (log) {
        attr.log_buf = reinterpret_cast<uint64_t>(log);
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    return sys_bpf(BPF_PROG_LOAD, &attr);
}

int load_default_program() {
    const std::vector<bpf_insn>& program = default_program();
    long fd = load(program, nullptr, 0);
    if (fd >= 0) return static_cast<int>(fd);
    int err = errno;
    // Again with the verifier's log, for the error message.
    std::string log(1 << 16, '\0');
    (void)load(program, log.data(), static_cast<uint32_t>(log.size()));
    log.resize(std::strlen(log.c_str()));
    if (log.size() > 400) log = "..." + log.substr(log.size() - 400);
    throw SystemError(err, "bpf(BPF_PROG_LOAD) device filter: " + describe_errno(err) + (log.empty() ? "" : ": " + log));
}

}  // namespace

const std::vector<DeviceRule>& default_device_rules() {
    static const std::vector<DeviceRule> rules(std::begin(kDefaultRules), std::end(kDefaultRules));
    return rules;
}

bool device_allowed(const std::vector<DeviceRule>& rules, char type, unsigned major, unsigned minor,
                    const std::string& access) {
    uint32_t want = access_bits(access);
    for (const auto& r : rules) {
        if (r.type != 'a' && r.type != type) continue;
        if (r.major != kAnyDeviceNumber && r.major != major) continue;
        if (r.minor != kAnyDeviceNumber && r.minor != minor) continue;
        if ((want & ~access_bits(r.access)) == 0) return true;
    }
    return false;
}

std::string to_v1_line(const DeviceRule& r) {
    auto number = [](int64_t n) { return n == kAnyDeviceNumber ? std::string("*") : std::to_string(n); };
    return std::string(1, r.type) + " " + number(r.major) + ":" + number(r.minor) + " " + r.access;
}

std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& rules) {
    // ctx (r1) is struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major, minor; }.
    std::vector<bpf_insn> p = {
        load_word(BPF_REG_2, BPF_REG_1, 0), alu32_imm(BPF_AND, BPF_REG_2, 0xffff),  // r2 = type
        load_word(BPF_REG_3, BPF_REG_1, 0), alu32_imm(BPF_RSH, BPF_REG_3, 16),      // r3 = access
        load_word(BPF_REG_4, BPF_REG_1, 4),                                          // r4 = major
        load_word(BPF_REG_5, BPF_REG_1, 8),                                          // r5 = minor
    };
    for (const auto& r : rules) {
        std::vector<bpf_insn> checks;  // each jumps to the next rule on mismatch (offset patched below)
        if (r.type != 'a') checks.push_back(jne_imm(BPF_REG_2, r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0));
        uint32_t allowed = access_bits(r.access);
        if (allowed != kAllAccess) {
            checks.push_back(mov32_reg(BPF_REG_1, BPF_REG_3));
            checks.push_back(alu32_imm(BPF_AND, BPF_REG_1, static_cast<int32_t>(~allowed & kAllAccess)));
            checks.push_back(jne_imm(BPF_REG_1, 0, 0));
        }
        if (r.major != kAnyDeviceNumber) checks.push_back(jne_imm(BPF_REG_4, static_cast<int32_t>(r.major), 0));
        if (r.minor != kAnyDeviceNumber) checks.push_back(jne_imm(BPF_REG_5, static_cast<int32_t>(r.minor), 0));
        checks.push_back(mov64_imm(BPF_REG_0, 1));
        checks.push_back(exit_insn());
        for (size_t i = 0; i < checks.size(); ++i)
            if (checks[i].code == (BPF_JMP | BPF_JNE | BPF_K)) checks[i].off = static_cast<int16_t>(checks.size() - i - 1);
        p.insert(p.end(), checks.begin(), checks.end());
    }
    p.push_back(mov64_imm(BPF_REG_0, 0));
    p.push_back(exit_insn());
    return p;
}

void attach_device_filter(int cgroup_dir_fd, const std::string& cgroup_path) {
    static const int program_fd = load_default_program();  // kept for the process's life
    bpf_attr attr{};
    attr.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(program_fd);
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) != 0) throw_errno("bpf(BPF_PROG_ATTACH) device filter to", cgroup_path);
}

std::vector<AttachedDeviceProgram> attached_device_programs(int cgroup_dir_fd, const std::string& cgroup_path) {
    uint32_t ids[64];
    bpf_attr q{};
    q.query.target_fd = static_cast<uint32_t>(cgroup_dir_fd);
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(ids);
    q.query.prog_cnt = std::size(ids);
    if (sys_bpf(BPF_PROG_QUERY, &q) != 0) throw_errno("bpf(BPF_PROG_QUERY) device programs of", cgroup_path);
    std::vector<AttachedDeviceProgram> out;
    for (uint32_t i = 0; i < std::min<uint32_t>(q.query.prog_cnt, std::size(ids)); ++i) {
        bpf_attr by_id{};
        by_id.prog_id = ids[i];
        long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &by_id);
        if (fd < 0) continue;  // detached meanwhile
        AttachedDeviceProgram p;
        p.fd.reset(static_cast<int>(fd));
        bpf_prog_info info{};
        bpf_attr get{};
        get.info.bpf_fd = static_cast<uint32_t>(fd);
        get.info.info_len = sizeof info;
        get.info.info = reinterpret_cast<uint64_t>(&info);
        if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &get) != 0) throw_errno("bpf(BPF_OBJ_GET_INFO_BY_FD) program of", cgroup_path);
        p.name.assign(info.name, strnlen(info.name, sizeof info.name));
        out.push_back(std::move(p));
    }
    return out;
}

void attach_device_filter_below(int parent_dir_fd, const std::string& parent_path) {
    const std::string ours = program_name(default_program());
    auto attached = attached_device_programs(parent_dir_fd, parent_path);
    bool have = false;
    for (const auto& p : attached) have = have || p.name == ours;
    if (!have) attach_device_filter(parent_dir_fd, parent_path);
    // Another build's program (other rules) goes once ours is there, so that there is never
    // a moment without one. (Copies of ours, from two first starts at once, stay: harmless.)
    for (const auto& p : attached) {
        if (p.name.rfind(kProgramNamePrefix, 0) != 0 || p.name == ours) continue;  // ours, or not imgbuild's (left alone)
        bpf_attr d{};
        d.target_fd = static_cast<uint32_t>(parent_dir_fd);
        d.attach_bpf_fd = static_cast<uint32_t>(p.fd.get());
        d.attach_type = BPF_CGROUP_DEVICE;
        (void)sys_bpf(BPF_PROG_DETACH, &d);  // gone meanwhile: another start detached it
    }
}

void filter_devices_of(int cgroup_dir_fd, const std::filesystem::path& cgroup_dir) {
    const std::filesystem::path parent = cgroup_dir.parent_path();
    try {
        unique_fd parent_fd = open_or_throw(parent, O_RDONLY | O_DIRECTORY);
        attach_device_filter_below(parent_fd.get(), parent.string());
        return;
    } catch (const Error& e) {
        log::debug(std::string(e.what()) + "; attaching the device filter to " + cgroup_dir.string() + " itself");
    }
    attach_device_filter(cgroup_dir_fd, cgroup_dir.string());
}

}  // namespace imgbuild::runtime
