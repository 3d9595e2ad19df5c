#include "el3d/carveout/carveout.hpp"

#include "el3d/util/crc.hpp"
#include "el3d/util/fd.hpp"
#include "el3d/util/numbers.hpp"
#include "format.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace el3d {

namespace {

using format::LogRecord;
using format::StateHeader;
using format::Superblock;

constexpr uint64_t kPage = 0x1000;

[[noreturn]] void refuse(CarveoutRefusal why, const std::string& path, const std::string& msg)
{
	throw CarveoutError(why, "carveout file " + path + ": " + msg);
}

std::string dirname_of(const std::string& path)
{
	auto slash = path.rfind('/');
	if (slash == std::string::npos)
		return ".";
	if (slash == 0)
		return "/";
	return path.substr(0, slash);
}

std::string basename_of(const std::string& path)
{
	auto slash = path.rfind('/');
	return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The name create_file() builds a new file under: "<name>.new." and mkostemp's six letters or digits.
bool is_temp_name(const std::string& name, const std::string& carveout_name)
{
	const std::string prefix = carveout_name + ".new.";
	if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0)
		return false;
	return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(), [](char ch) {
		return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
	});
}

// Remove the temporary files that an opener killed while it created the carveout file left next
// to it. Called with the carveout file's lock held, so no el3d is creating or replacing this file
// now; a temporary file is removed only if it is a regular file of ours that nobody holds locked
// (its creator locks it until it is in place), or a second name of the file we hold (a creator
// that died between link() and unlink()).
void remove_stale_temp_files(const std::string& path, int own_fd)
{
	struct stat own {};
	if (::fstat(own_fd, &own) != 0)
		return;
	const std::string dir = dirname_of(path);
	const std::string name = basename_of(path);
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
	if (!d)
		return;
	while (const dirent* e = ::readdir(d.get())) {
		const std::string entry = e->d_name;
		if (!is_temp_name(entry, name))
			continue;
		const std::string tmp = dir + "/" + entry;
		UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
		struct stat st {};
		if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
			continue;
		const bool second_name = same_file(st, own);
		if (!second_name && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
			continue;  // its creator is still at work
		struct stat now {};
		if (::lstat(tmp.c_str(), &now) != 0 || !same_file(now, st))
			continue;
		if (::unlink(tmp.c_str()) != 0) {
			spdlog::warn("cannot remove stale temporary file {}: {}", tmp, std::strerror(errno));
			continue;
		}
		spdlog::info("removed stale temporary file {} (left by a process killed while it created {})", tmp, path);
	}
}

// Take the exclusive lock or explain who has it.
void lock_or_refuse(int fd, const std::string& path)
{
	if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
		return;
	if (errno != EWOULDBLOCK)
		refuse(CarveoutRefusal::Io, path, std::string("cannot lock: ") + std::strerror(errno));
	long pid = flock_holder_pid(fd);
	refuse(CarveoutRefusal::Locked, path,
	       "in use by another process" + (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()) +
	           "; only one el3d (or in-process el3client) may serve a carveout file at a time");
}

CarveoutRefusal classify(const std::string& why)
{
	if (why.rfind("not an el3d", 0) == 0)
		return CarveoutRefusal::NotCarveout;
	if (why.rfind("unsupported", 0) == 0)
		return CarveoutRefusal::UnsupportedVersion;
	if (why.rfind("truncated", 0) == 0 || why.rfind("wrong size", 0) == 0)
		return CarveoutRefusal::Truncated;
	return CarveoutRefusal::Corrupt;
}

// Compare the file's geometry with what the caller explicitly asked for.
void check_geometry(const Geometry& have, const CarveoutOpenRequest& req)
{
	std::string diffs;
	auto diff = [&](const char* name, uint64_t file_value, uint64_t asked) {
		if (file_value != asked)
			diffs += std::string("\n  ") + name + ": file has " + hex(file_value) + ", asked for " + hex(asked);
	};
	if (req.platform) {
		const PlatformProfile* p = find_platform(*req.platform);
		if (p == nullptr)
			throw GeometryError("unknown platform '" + *req.platform + "' (known: " + platform_names() + ")");
		Geometry want = make_geometry(*p, req.overrides);
		if (want.platform != have.platform)
			diffs += "\n  platform: file has " + have.platform + ", asked for " + want.platform;
		diff("rmm_base", have.rmm_base, want.rmm_base);
		diff("rmm_limit", have.rmm_limit, want.rmm_limit);
		// The payload size is a default for new files (it depends on the ABI): an existing file keeps
		// its own unless --payload-size asks for another.
		if (req.overrides.payload_size)
			diff("payload_limit", have.payload_limit, want.payload_limit);
		diff("region_slots", have.region_slots, want.region_slots);
		diff("core_count", have.core_count, want.core_count);
	} else {
		const auto& o = req.overrides;
		if (o.rmm_base)
			diff("rmm_base", have.rmm_base, *o.rmm_base);
		if (o.rmm_size)
			diff("rmm_size", have.rmm_limit - have.rmm_base, *o.rmm_size);
		if (o.payload_size)
			diff("payload_size", have.payload_limit - have.rmm_base, *o.payload_size);
		if (o.region_slots)
			diff("region_slots", have.region_slots, *o.region_slots);
		if (o.core_count)
			diff("core_count", have.core_count, *o.core_count);
	}
	if (!diffs.empty())
		refuse(CarveoutRefusal::GeometryMismatch, req.path,
		       "its geometry differs from the one requested:" + diffs +
		           "\nStart without those options to use the file as it is, or add --reset to recreate it "
		           "(this erases its regions).");
}

bool state_copy_valid(const StateHeader& h, const uint8_t* payload, uint64_t copy_size)
{
	if (std::memcmp(h.magic, format::kStateMagic, sizeof(h.magic)) != 0)
		return false;
	if (h.payload_len > copy_size - sizeof(StateHeader))
		return false;
	StateHeader z = h;
	z.crc = 0;
	uint32_t crc = crc32(&z, sizeof(z));
	crc = crc32(payload, h.payload_len, crc);
	return crc == h.crc;
}

// Create the file under a temporary name, then link (or, for a reset, rename) it into place, so
// that nobody ever sees a half-written carveout. Returns the locked fd, or -1 if another process
// created the file first (the caller then opens that one).
int create_file(const CarveoutOpenRequest& req, const Geometry& g, bool replace)
{
	const std::string dir = dirname_of(req.path);
	make_dirs(dir, 0700);
	std::string tmpl = req.path + ".new.XXXXXX";
	UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
	if (!fd.valid())
		refuse(CarveoutRefusal::Io, req.path, std::string("cannot create: ") + std::strerror(errno));
	const std::string tmp = tmpl;
	struct Unlinker {
		std::string p;
		~Unlinker()
		{
			if (!p.empty())
				::unlink(p.c_str());
		}
	} cleanup{tmp};
	try {
		if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
			throw SystemError("cannot lock " + tmp, errno);
		::fchmod(fd.get(), 0600);
		const uint64_t cap = req.log_capacity ? req.log_capacity : format::kDefaultLogCapacity;
		if (cap > format::kMaxLogCapacity)
			throw GeometryError("log capacity " + std::to_string(cap) + " is above the maximum " +
			                    std::to_string(format::kMaxLogCapacity));
		Superblock sb = format::make_superblock(g, cap);
		if (::ftruncate(fd.get(), static_cast<off_t>(sb.file_size)) != 0)
			throw SystemError("cannot size " + tmp, errno);
		// Reserve the metadata blocks so that commits never meet a full disk; the image stays sparse.
		if (::fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(sb.state_offset),
		                static_cast<off_t>(sb.image_offset - sb.state_offset)) != 0 &&
		    errno != EOPNOTSUPP)
			throw SystemError("cannot reserve metadata space in " + tmp, errno);
		write_exact(fd.get(), &sb, sizeof(sb), 0, "write header of " + tmp);
		// Generation 1, epoch 1, empty document ({} in CBOR is 0xa0).
		const uint8_t empty_map = 0xa0;
		StateHeader h{};
		std::memcpy(h.magic, format::kStateMagic, sizeof(h.magic));
		h.generation = 1;
		h.epoch = 1;
		h.payload_len = 1;
		h.crc = crc32(&empty_map, 1, crc32(&h, sizeof(h)));
		write_exact(fd.get(), &h, sizeof(h), sb.state_offset, "write state of " + tmp);
		write_exact(fd.get(), &empty_map, 1, sb.state_offset + sizeof(h), "write state of " + tmp);
		if (::fsync(fd.get()) != 0)
			throw SystemError("cannot sync " + tmp, errno);
		if (replace) {
			if (::rename(tmp.c_str(), req.path.c_str()) != 0)
				throw SystemError("cannot move " + tmp + " into place", errno);
		} else if (::link(tmp.c_str(), req.path.c_str()) != 0) {
			if (errno == EEXIST)
				return -1;
			throw SystemError("cannot link " + tmp + " into place", errno);
		}
		if (replace)
			cleanup.p.clear();
		UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (dfd.valid())
			::fsync(dfd.get());
	} catch (const SystemError& e) {
		refuse(CarveoutRefusal::Io, req.path, e.what());
	}
	return fd.release();
}

}  // namespace

std::unique_ptr<Carveout> Carveout::open(const CarveoutOpenRequest& req)
{
	if (req.path.empty())
		throw CarveoutError(CarveoutRefusal::Io, "no carveout file path given");
	auto new_geometry = [&] {
		const std::string name = req.platform.value_or("fvp");
		const PlatformProfile* p = find_platform(name);
		if (p == nullptr)
			throw GeometryError("unknown platform '" + name + "' (known: " + platform_names() + ")");
		return make_geometry(*p, req.overrides);
	};

	std::unique_ptr<Carveout> c(new Carveout());
	c->path_ = req.path;
	// Once the file is ours (locked and accepted), clear what killed creators left next to it.
	auto opened = [&] {
		remove_stale_temp_files(c->path_, c->fd_);
		return std::move(c);
	};

	if (req.reset) {
		Geometry g = new_geometry();
		// Hold the old file's lock (if there is one) so a running daemon's file is never replaced.
		UniqueFd old(::open(req.path.c_str(), O_RDONLY | O_CLOEXEC));
		if (old.valid())
			lock_or_refuse(old.get(), req.path);
		c->fd_ = create_file(req, g, /*replace=*/true);
		c->map_and_load(true);
		return opened();
	}

	for (int attempt = 0; attempt < 3; ++attempt) {
		int fd = ::open(req.path.c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			Geometry g = new_geometry();
			fd = create_file(req, g, /*replace=*/false);
			if (fd < 0)
				continue;  // created by someone else meanwhile: open theirs
			c->fd_ = fd;
			c->map_and_load(true);
			return opened();
		}
		if (fd < 0)
			refuse(CarveoutRefusal::Io, req.path, std::string("cannot open: ") + std::strerror(errno));
		c->fd_ = fd;
		lock_or_refuse(fd, req.path);
		c->map_and_load(false);
		check_geometry(c->geom_, req);
		return opened();
	}
	refuse(CarveoutRefusal::Io, req.path, "the file keeps appearing and disappearing");
}

void Carveout::map_and_load(bool created)
{
	created_ = created;
	struct stat st {};
	if (::fstat(fd_, &st) != 0)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot stat: ") + std::strerror(errno));
	if (!S_ISREG(st.st_mode))
		refuse(CarveoutRefusal::NotCarveout, path_, "not a regular file");
	const auto size = static_cast<uint64_t>(st.st_size);
	if (size == 0)
		refuse(CarveoutRefusal::NotCarveout, path_, "not an el3d carveout file (empty)");

	// --- everything below reads only, until the mappings are made -----------------------------
	Superblock sb{};
	if (size < sizeof(sb)) {
		char magic[sizeof(format::kMagic)] = {};
		read_exact(fd_, magic, std::min<uint64_t>(size, sizeof(magic)), 0, "read " + path_);
		if (size >= sizeof(magic) && std::memcmp(magic, format::kMagic, sizeof(magic)) == 0)
			refuse(CarveoutRefusal::Truncated, path_, "truncated: only " + std::to_string(size) + " bytes");
		refuse(CarveoutRefusal::NotCarveout, path_, "not an el3d carveout file (bad magic)");
	}
	read_exact(fd_, &sb, sizeof(sb), 0, "read header of " + path_);
	if (std::string why = format::check_superblock(sb, size); !why.empty())
		refuse(classify(why), path_, why + (classify(why) == CarveoutRefusal::NotCarveout
		                                        ? "; refusing to touch it (use another path, or --reset to overwrite)"
		                                        : "; refusing to touch it (--reset recreates it, erasing it)"));
	geom_ = format::geometry_of(sb);
	std::memcpy(uuid_.data(), sb.uuid, uuid_.size());
	file_size_ = sb.file_size;
	state_offset_ = sb.state_offset;
	state_copy_size_ = sb.state_copy_size;
	log_offset_ = sb.log_offset;
	log_capacity_ = sb.log_capacity;
	image_offset_ = sb.image_offset;
	gpt_offset_ = sb.gpt_offset;
	gpt_size_ = sb.gpt_size;
	gpt_ranges_ = gpt_layout(geom_);

	// State block: the valid copy with the higher generation.
	std::vector<uint8_t> copy[2];
	StateHeader hdr[2]{};
	bool valid[2] = {false, false};
	for (unsigned i = 0; i < 2; ++i) {
		const uint64_t off = state_offset_ + i * state_copy_size_;
		read_exact(fd_, &hdr[i], sizeof(StateHeader), off, "read state of " + path_);
		if (hdr[i].payload_len <= state_copy_size_ - sizeof(StateHeader)) {
			copy[i].resize(hdr[i].payload_len);
			if (!copy[i].empty())
				read_exact(fd_, copy[i].data(), copy[i].size(), off + sizeof(StateHeader), "read state of " + path_);
			valid[i] = state_copy_valid(hdr[i], copy[i].data(), state_copy_size_);
		}
	}
	if (!valid[0] && !valid[1])
		refuse(CarveoutRefusal::Corrupt, path_,
		       "corrupt metadata (no valid state block); refusing to touch it (--reset recreates it, erasing it)");
	unsigned cur = (valid[0] && valid[1]) ? (hdr[1].generation > hdr[0].generation ? 1u : 0u) : (valid[0] ? 0u : 1u);
	try {
		state_ = nlohmann::json::from_cbor(copy[cur]);
	} catch (const nlohmann::json::exception& e) {
		refuse(CarveoutRefusal::Corrupt, path_, std::string("corrupt metadata (state document): ") + e.what());
	}
	if (!state_.is_object())
		refuse(CarveoutRefusal::Corrupt, path_, "corrupt metadata (state document is not an object)");
	current_copy_ = cur;
	generation_ = hdr[cur].generation;
	epoch_ = hdr[cur].epoch;

	// Allocation log: records of this epoch, in order, up to the first one that is not.
	std::vector<LogRecord> buf(4096);
	for (uint64_t idx = 0; idx < log_capacity_;) {
		const uint64_t n = std::min<uint64_t>(buf.size(), log_capacity_ - idx);
		read_exact(fd_, buf.data(), n * sizeof(LogRecord), log_offset_ + idx * sizeof(LogRecord),
		           "read allocation log of " + path_);
		bool end = false;
		for (uint64_t i = 0; i < n; ++i, ++idx) {
			const LogRecord& r = buf[i];
			if (r.epoch != epoch_ || r.seq != idx || format::log_record_crc(r) != r.crc) {
				end = true;
				break;
			}
			const bool inside = r.addr >= geom_.rmm_base && r.size <= geom_.rmm_limit - r.addr &&
			                    r.addr <= geom_.rmm_limit;
			if (!inside || r.id >= geom_.region_slots)
				refuse(CarveoutRefusal::Corrupt, path_,
				       "corrupt metadata (allocation log record " + std::to_string(idx) + " lies outside the carveout)");
			log_.push_back(AllocRecord{r.addr, r.size, r.activation, r.time_ns, r.id, r.cpu, r.flags, r.align_bits});
		}
		if (end)
			break;
	}

	// --- validated: map --------------------------------------------------------------------------
	meta_len_ = gpt_offset_ - state_offset_;
	void* m = ::mmap(nullptr, meta_len_, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(state_offset_));
	if (m == MAP_FAILED)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot map metadata: ") + std::strerror(errno));
	meta_ = static_cast<uint8_t*>(m);
	void* gm = ::mmap(nullptr, gpt_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(gpt_offset_));
	if (gm == MAP_FAILED)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot map the GPT: ") + std::strerror(errno));
	gpt_ = static_cast<uint8_t*>(gm);
	void* im = ::mmap(nullptr, geom_.image_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
	                  static_cast<off_t>(image_offset_));
	if (im == MAP_FAILED)
		refuse(CarveoutRefusal::Io, path_, std::string("cannot map image: ") + std::strerror(errno));
	image_ = static_cast<uint8_t*>(im);
}

Carveout::~Carveout()
{
	if (image_ != nullptr) {
		::msync(image_, geom_.image_size(), MS_SYNC);
		::munmap(image_, geom_.image_size());
	}
	if (meta_ != nullptr)
		::munmap(meta_, meta_len_);
	if (gpt_ != nullptr) {
		::msync(gpt_, gpt_size_, MS_SYNC);
		::munmap(gpt_, gpt_size_);
	}
	if (fd_ >= 0)
		::close(fd_);  // releases the flock
}

std::string Carveout::uuid_string() const { return to_hex(uuid_.data(), uuid_.size()); }

bool Carveout::in_image(uint64_t pa, uint64_t len) const
{
	return pa >= geom_.rmm_base && pa <= geom_.image_end() && len <= geom_.image_end() - pa;
}

std::error_code Carveout::zero(uint64_t pa, uint64_t len)
{
	if (len == 0)
		return {};
	if (!in_image(pa, len))
		return std::make_error_code(std::errc::invalid_argument);
	const auto off = static_cast<off_t>(image_offset_ + (pa - geom_.rmm_base));
	const auto l = static_cast<off_t>(len);
	if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, l) != 0) {
		if (errno != EOPNOTSUPP && errno != EINVAL)
			return {errno, std::generic_category()};
		// Filesystems without ZERO_RANGE (tmpfs): punch, then reserve; else write zeros.
		if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, l) == 0) {
			if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, off, l) != 0 && errno != EOPNOTSUPP)
				return {errno, std::generic_category()};
		} else {
			std::memset(ptr(pa), 0, len);
		}
	}
	return sync(pa, len);
}

std::error_code Carveout::sync(uint64_t pa, uint64_t len)
{
	if (!in_image(pa, len))
		return std::make_error_code(std::errc::invalid_argument);
	const uint64_t start = (pa - geom_.rmm_base) & ~(kPage - 1);
	const uint64_t end = pa - geom_.rmm_base + len;
	if (::msync(image_ + start, std::max<uint64_t>(end - start, 1), MS_SYNC) != 0)
		return {errno, std::generic_category()};
	return {};
}

std::error_code Carveout::sync_gpt(uint64_t offset, uint64_t len)
{
	if (offset > gpt_size_ || len > gpt_size_ - offset)
		return std::make_error_code(std::errc::invalid_argument);
	const uint64_t start = offset & ~(kPage - 1);
	if (::msync(gpt_ + start, std::max<uint64_t>(offset + len - start, 1), MS_SYNC) != 0)
		return {errno, std::generic_category()};
	return {};
}

bool Carveout::append(const AllocRecord& rec)
{
	const uint64_t idx = log_.size();
	if (idx >= log_capacity_)
		return false;
	LogRecord r{};
	r.epoch = epoch_;
	r.seq = idx;
	r.addr = rec.addr;
	r.size = rec.size;
	r.activation = rec.activation;
	r.time_ns = rec.time_ns;
	r.id = rec.id;
	r.cpu = rec.cpu;
	r.flags = rec.flags;
	r.align_bits = rec.align_bits;
	r.crc = format::log_record_crc(r);
	const uint64_t off = log_offset_ + idx * sizeof(LogRecord);
	const uint64_t page = (off - state_offset_) & ~(kPage - 1);
	// The caller is told that the allocation failed if this throws, but the record may be in the page
	// cache (and reach the disk later), so it is voided; if even that cannot be flushed, the next
	// append, which takes the same slot, overwrites it.
	const LogRecord none{};
	write_metadata(&r, sizeof(r), off, page, kPage, &none, sizeof(none), "allocation log of " + path_,
	               "the record of the failed allocation at " + hex(rec.addr) +
	                   " may survive a restart of el3d unless another allocation succeeds first");
	log_.push_back(rec);
	return true;
}

int Carveout::sync_meta(uint64_t rel, uint64_t len)
{
	if (failing_syncs_ > 0) {
		--failing_syncs_;
		errno = EIO;
		return -1;
	}
	return ::msync(meta_ + rel, len, MS_SYNC);
}

void Carveout::write_state_copy(unsigned copy, uint64_t generation, uint64_t epoch, const std::vector<uint8_t>& cbor)
{
	if (cbor.size() > state_copy_size_ - sizeof(StateHeader))
		throw std::length_error("state document of " + std::to_string(cbor.size()) +
		                        " bytes does not fit the state block");
	StateHeader h{};
	std::memcpy(h.magic, format::kStateMagic, sizeof(h.magic));
	h.generation = generation;
	h.epoch = epoch;
	h.payload_len = static_cast<uint32_t>(cbor.size());
	h.crc = crc32(cbor.data(), cbor.size(), crc32(&h, sizeof(h)));
	const uint64_t off = state_offset_ + copy * state_copy_size_;
	std::vector<uint8_t> buf(sizeof(h) + cbor.size());
	std::memcpy(buf.data(), &h, sizeof(h));
	std::memcpy(buf.data() + sizeof(h), cbor.data(), cbor.size());
	const uint64_t rel = off - state_offset_;
	// As in append(): a copy the caller was told did not commit must not win the next open. Voiding
	// its header leaves the current copy, which is what the daemon keeps using.
	const StateHeader none{};
	write_metadata(buf.data(), buf.size(), off, rel, (buf.size() + kPage - 1) & ~(kPage - 1), &none, sizeof(none),
	               "state of " + path_,
	               "the state change that failed may survive a restart of el3d unless another one succeeds first");
}

void Carveout::write_metadata(const void* data, std::size_t n, uint64_t off, uint64_t rel, uint64_t sync_len,
                              const void* voided, std::size_t voided_n, const std::string& what,
                              const std::string& if_void_fails)
{
	try {
		write_exact(fd_, data, n, off, "write " + what);
		if (sync_meta(rel, sync_len) != 0)
			throw SystemError("sync " + what, errno);
	} catch (const SystemError&) {
		try {
			write_exact(fd_, voided, voided_n, off, "void " + what);
			if (sync_meta(rel, kPage) != 0)
				throw SystemError("sync " + what, errno);
		} catch (const SystemError& e) {
			spdlog::error("{}: {}", e.what(), if_void_fails);
		}
		throw;
	}
}

void Carveout::commit_state(const nlohmann::json& doc)
{
	const auto cbor = nlohmann::json::to_cbor(doc);
	const unsigned next = 1 - current_copy_;
	write_state_copy(next, generation_ + 1, epoch_, cbor);
	current_copy_ = next;
	++generation_;
	state_ = doc;
}

void Carveout::reset(const nlohmann::json& fresh_state)
{
	const auto cbor = nlohmann::json::to_cbor(fresh_state);
	const unsigned next = 1 - current_copy_;
	write_state_copy(next, generation_ + 1, epoch_ + 1, cbor);  // the commit point
	current_copy_ = next;
	++generation_;
	++epoch_;
	state_ = fresh_state;
	log_.clear();
	// Give the image's blocks back; it reads as zero. (Fresh allocations zero their own range
	// too, so a crash between the commit above and this point cannot leak old contents.)
	const auto off = static_cast<off_t>(image_offset_);
	const auto len = static_cast<off_t>(geom_.image_size());
	if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) != 0)
		std::memset(image_, 0, geom_.image_size());
	if (::msync(image_, geom_.image_size(), MS_SYNC) != 0)
		spdlog::warn("reset: cannot sync image of {}: {}", path_, std::strerror(errno));
	std::memset(gpt_, 0, gpt_size_);
	if (::msync(gpt_, gpt_size_, MS_SYNC) != 0)
		spdlog::warn("reset: cannot sync the GPT of {}: {}", path_, std::strerror(errno));
}

}  // namespace el3d
