#include "runtime/devices.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
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

long load(const std::vector<bpf_insn>& program, char* log, uint32_t log_size) {
    static char license[] = "Apache-2.0";
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
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
    static const std::vector<bpf_insn> program = device_filter_program(default_device_rules());
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

}  // namespace imgbuild::runtime
