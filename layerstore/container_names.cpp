#include "layerstore/container_names.h"

#include <cstdint>
#include <iterator>

namespace imgbuild::layerstore {
namespace {

constexpr const char* kAdjectives[] = {
    "admiring", "adoring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring", "brave",
    "busy", "charming", "clever", "cool", "compassionate", "competent", "confident", "cranky", "crazy", "dazzling",
    "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic",
    "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "gallant", "gifted", "goofy", "gracious",
    "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring", "jolly", "jovial", "keen",
    "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous",
    "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless",
    "quirky", "quizzical", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy",
    "stoic", "strange", "stupefied", "suspicious", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
    "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
};
constexpr const char* kNames[] = {
    "albattani", "allen", "archimedes", "babbage", "banach", "bardeen", "bell", "bhabha", "black", "bohr",
    "booth", "borg", "bose", "brahmagupta", "brattain", "brown", "carson", "cerf", "chandrasekhar", "clarke",
    "curie", "darwin", "davinci", "dijkstra", "easley", "einstein", "elion", "engelbart", "euclid", "euler",
    "faraday", "fermat", "fermi", "feynman", "franklin", "galileo", "gauss", "goldberg", "goodall", "hamilton",
    "hawking", "heisenberg", "hermann", "hodgkin", "hopper", "hypatia", "jackson", "jang", "jennings", "johnson",
    "joliot", "kalam", "keller", "kepler", "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey",
    "lovelace", "lumiere", "mayer", "mccarthy", "mclean", "meitner", "mendel", "merkle", "minsky", "mirzakhani",
    "montalcini", "moore", "morse", "napier", "newton", "nobel", "noether", "noyce", "pascal", "pasteur",
    "payne", "perlman", "pike", "poincare", "ptolemy", "raman", "ride", "ritchie", "rosalind", "sammet",
    "shannon", "shockley", "sinoussi", "stallman", "swanson", "tesla", "thompson", "torvalds", "turing", "villani",
    "wescoff", "wiles", "williams", "wilson", "wozniak", "wright", "yalow", "yonath",
};

}  // namespace

std::string generated_container_name(uint64_t salt) {
    constexpr uint64_t na = std::size(kAdjectives), nn = std::size(kNames);
    std::string name = std::string(kAdjectives[salt % na]) + "_" + kNames[(salt / na) % nn];
    // docker has "boring_wozniak" never; we keep it simple and just avoid the one it avoids.
    return name == "boring_wozniak" ? "boring_turing" : name;
}

}  // namespace imgbuild::layerstore
