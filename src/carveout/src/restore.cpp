// Restoring a carveout file in place from another one (a snapshot, docs/snapshots.md), and finishing
// a restore that a crash interrupted, as one atomic step seen after any crash: the intent (a second
// name for, or a copy of, the source file next to the carveout) is committed first; once it exists,
// every open copies it over the file before anything reads the file, so nobody sees a mix.
#include "el3d/carveout/carveout.hpp"

#include "el3d/util/fd.hpp"
#include "el3d/util/file_copy.hpp"
#include "el3d/util/numbers.hpp"
#include "internal.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace el3d {

using detail::refuse;
using format::Superblock;

namespace {

std::string dir_of(const std::string& path)
{
	const auto slash = path.rfind('/');
	return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string detail::layout_differences(const Superblock& have, const Superblock& other)
{
	std::string diffs;
	auto diff = [&](const char* name, uint64_t a, uint64_t b) {
		if (a != b)
			diffs += std::string("\n  ") + name + ": this file has " + hex(a) + ", the other " + hex(b);
	};
	const std::string pa(have.platform, strnlen(have.platform, sizeof(have.platform)));
	const std::string pb(other.platform, strnlen(other.platform, sizeof(other.platform)));
	if (pa != pb)
		diffs += "\n  platform: this file has " + pa + ", the other " + pb;
	diff("format_version", have.format_version, other.format_version);
	diff("rmm_base", have.rmm_base, other.rmm_base);
	diff("rmm_limit", have.rmm_limit, other.rmm_limit);
	diff("shared_size", have.shared_size, other.shared_size);
	diff("payload_limit", have.payload_limit, other.payload_limit);
	diff("core_count", have.core_count, other.core_count);
	diff("region_slots", have.region_slots, other.region_slots);
	diff("log_capacity", have.log_capacity, other.log_capacity);
	diff("file_size", have.file_size, other.file_size);
	if (diffs.empty()) {
		// The same geometry gives the same layout; anything else differing means another format.
		Superblock a = have, b = other;
		std::memset(a.uuid, 0, sizeof(a.uuid));
		std::memset(b.uuid, 0, sizeof(b.uuid));
		a.created_unix = b.created_unix = 0;
		a.crc = b.crc = 0;
		if (std::memcmp(&a, &b, sizeof(a)) != 0)
			diffs += "\n  layout: the areas of the two files lie at different offsets";
	}
	return diffs;
}

CarveoutSummary Carveout::inspect(const std::string& path)
{
	std::unique_ptr<Carveout> c(new Carveout());
	c->path_ = path;
	c->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (c->fd_ < 0)
		refuse(CarveoutRefusal::Io, path, std::string("cannot open: ") + std::strerror(errno));
	const Superblock sb = detail::read_superblock(c->fd_, path);
	c->geom_ = format::geometry_of(sb);
	std::memcpy(c->uuid_.data(), sb.uuid, c->uuid_.size());
	c->file_size_ = sb.file_size;
	c->state_offset_ = sb.state_offset;
	c->state_copy_size_ = sb.state_copy_size;
	c->log_offset_ = sb.log_offset;
	c->log_capacity_ = sb.log_capacity;
	c->load_metadata();
	return {c->geom_, c->uuid_, c->epoch_, c->file_size_, std::move(c->log_), std::move(c->state_)};
}

void Carveout::apply_restore_intent(int intent_fd)
{
	const std::string intent = restore_intent_path(path_);
	const Superblock sb = detail::read_superblock(fd_, path_);
	// The header stays this file's own (its id: the NS memory file and clients know the file by it);
	// the metadata areas are rewritten whole (their blocks stay reserved), the image keeps its holes.
	copy_range_over(intent_fd, fd_, sb.state_offset, sb.image_offset, sb.file_size, "restore " + intent + " over " + path_);
	if (durability_ == Durability::Power && ::fsync(fd_) != 0)
		throw SystemError("cannot sync " + path_, errno);
	crash_point("restore:copied");
	if (::unlink(intent.c_str()) != 0)
		throw SystemError("cannot remove " + intent, errno);
	if (durability_ == Durability::Power)
		sync_dir(dir_of(path_));
	crash_point("restore:done");
}

void Carveout::finish_interrupted_restore()
{
	const std::string intent = restore_intent_path(path_);
	::unlink((intent + ".tmp").c_str());  // a copy that never became the intent: nothing was committed
	UniqueFd ifd(::open(intent.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
	if (!ifd.valid()) {
		if (errno == ENOENT)
			return;
		refuse(CarveoutRefusal::Io, path_, "cannot open the interrupted restore's " + intent + ": " + std::strerror(errno));
	}
	const Superblock mine = detail::read_superblock(fd_, path_);
	Superblock theirs{};
	try {
		theirs = detail::read_superblock(ifd.get(), intent);
	} catch (const CarveoutError& e) {
		refuse(CarveoutRefusal::Corrupt, path_,
		       std::string("an interrupted restore left ") + intent + ", which is not a carveout file (" + e.what() +
		           "); refusing to touch either (remove it to keep this file as it is, which may be half restored)");
	}
	if (std::string d = detail::layout_differences(mine, theirs); !d.empty())
		refuse(CarveoutRefusal::Corrupt, path_,
		       "an interrupted restore left " + intent + ", laid out differently:" + d +
		           "\nrefusing to touch either (remove it to keep this file as it is, which may be half restored)");
	spdlog::warn("carveout {}: the last restore from a snapshot did not finish (el3d stopped in the middle of it); "
	             "finishing it now from {}",
	             path_, intent);
	try {
		apply_restore_intent(ifd.get());
	} catch (const SystemError& e) {
		refuse(CarveoutRefusal::Io, path_, std::string("cannot finish the interrupted restore: ") + e.what());
	}
}

void Carveout::restore_from(const std::string& source)
{
	// Checked whole first (header, state block, log): a damaged snapshot is refused before any change.
	(void)inspect(source);
	UniqueFd sfd(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (!sfd.valid())
		throw SystemError("cannot open " + source, errno);
	const Superblock mine = detail::read_superblock(fd_, path_);
	const Superblock theirs = detail::read_superblock(sfd.get(), source);
	if (std::string d = detail::layout_differences(mine, theirs); !d.empty())
		throw CarveoutError(CarveoutRefusal::GeometryMismatch,
		                    "snapshot " + source + " does not fit carveout file " + path_ + ":" + d);

	// The commit point: the intent appears whole, in one step (a link, or a rename of a synced copy).
	const std::string intent = restore_intent_path(path_), tmp = intent + ".tmp";
	::unlink(intent.c_str());
	::unlink(tmp.c_str());
	if (::link(source.c_str(), intent.c_str()) != 0) {
		// Another file system (--snapshot-dir), or one without hard links: a copy, synced, renamed.
		UniqueFd t(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
		if (!t.valid())
			throw SystemError("cannot create " + tmp, errno);
		try {
			clone_file(sfd.get(), t.get(), source);
			if (::fsync(t.get()) != 0)
				throw SystemError("cannot sync " + tmp, errno);
			if (::rename(tmp.c_str(), intent.c_str()) != 0)
				throw SystemError("cannot rename " + tmp, errno);
		} catch (...) {
			::unlink(tmp.c_str());
			throw;
		}
	}
	sync_dir(dir_of(path_));
	crash_point("restore:intent");
	{
		UniqueFd ifd(::open(intent.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
		if (!ifd.valid())
			throw SystemError("cannot open " + intent, errno);
		apply_restore_intent(ifd.get());
	}
	// What the file says now, as an open would read it.
	load_metadata();
	gpt_dirty_lo_ = 0;
	gpt_dirty_hi_ = UINT64_MAX;
	// Regions keep disk blocks reserved (as zero() gave them), so that a write into one cannot fail
	// for lack of space; the copy left the zero parts of regions as holes.
	for (const AllocRecord& r : log_)
		::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(image_offset_ + (r.addr - geom_.rmm_base)),
		            static_cast<off_t>(r.size));
}

}  // namespace el3d
