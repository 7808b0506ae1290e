#include "pipeline/demo_world.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/output_path.h"
#include "base/splitmix.h"

namespace fm {
namespace {

// Deterministic random numbers: SplitMix64 over a counter.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(SplitMix64(seed ^ 0x64656d6f776f726cull)) {}
  uint64_t Next() { return SplitMix64(state_++); }
  int Uniform(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(static_cast<int>(v.size()))];
  }
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[Uniform(static_cast<int>(i))]);
  }

 private:
  uint64_t state_;
};

const std::vector<std::string> kOnsets = {"b", "d", "f", "g",  "k",  "l",  "m",  "n",  "p",  "r",  "s",
                                          "t", "v", "z", "br", "dr", "gr", "kl", "tr", "st", "sh", "th"};
const std::vector<std::string> kVowels = {"a", "e", "i", "o", "u", "ai", "ea", "ou"};
const std::vector<std::string> kCodas = {"", "", "n", "r", "l", "s", "th", "x", "m"};

// Value pools (plain English words; all of them general).
const std::vector<std::string> kJobs = {"baker",  "pilot",  "teacher", "farmer", "painter",
                                        "sailor", "doctor", "miner",   "weaver", "singer",
                                        "tailor", "guard",  "potter",  "builder"};
const std::vector<std::string> kColors = {"red",    "blue",  "green", "yellow", "purple",
                                          "orange", "white", "black", "silver", "brown"};
const std::vector<std::string> kFoods = {"bread", "soup",    "rice",  "cheese", "apples",
                                         "fish",  "noodles", "honey", "beans",  "pie"};
const std::vector<std::string> kClimates = {"warm",  "cold", "rainy", "dry",
                                            "windy", "mild", "foggy", "snowy"};
const std::vector<std::string> kHabitats = {"forest", "desert", "river", "mountains",
                                            "swamp",  "meadow", "caves", "coast"};
const std::vector<std::string> kDiets = {"grass",  "insects", "fish",    "fruit", "seeds",
                                         "leaves", "roots",   "berries", "nuts",  "worms"};
const std::vector<std::string> kSectors = {"energy", "banking",   "retail",  "software", "shipping",
                                           "mining", "insurance", "telecom", "farming",  "media"};
const std::vector<std::string> kCauses = {"education", "health", "arts",    "housing",
                                          "science",   "sports", "culture", "environment"};
const std::vector<std::string> kOrgSuffixes = {"Foundation", "Society", "Trust",
                                               "Institute",  "Guild",   "Academy"};
const std::vector<std::string> kCompanySuffixes = {"Holdings", "Industries",  "Capital",  "Group",
                                                   "Systems",  "Corporation", "Partners", "Works"};

// An attribute: its name as used in questions and generic sentences, natural paraphrases ({e} entity,
// {v} value), and whether its values are proper nouns (then "{v} is the {a} of {e}." reads well).
struct AttrDef {
  std::string name;
  std::vector<std::string> natural;
  bool proper_value = false;
};

const std::vector<AttrDef> kPersonAttrs = {
    {"home city", {"{e} lives in {v}.", "{e} has a home in {v}."}, true},
    {"job", {"{e} works as a {v}.", "By trade, {e} is a {v}."}, false},
    {"favorite color", {"{e} likes the color {v} best.", "The color {e} loves most is {v}."}, false},
    {"pet", {"{e} keeps a {v} as a pet.", "At home, {e} looks after a {v}."}, true},
    {"favorite food", {"{e} likes to eat {v}.", "{e} enjoys {v} more than any other food."}, false},
};
const std::vector<AttrDef> kCityAttrs = {
    {"country", {"{e} is a city in {v}.", "{e} lies in the country of {v}."}, true},
    {"river", {"The river {v} flows through {e}.", "{e} was built on the banks of the {v}."}, true},
    {"famous dish", {"{e} is famous for its {v}.", "Visitors to {e} always try the local {v}."}, false},
    {"climate", {"{e} has a {v} climate.", "The weather in {e} is usually {v}."}, false},
};
const std::vector<AttrDef> kSpeciesAttrs = {
    {"habitat", {"The {e} lives in the {v}.", "You can find the {e} in the {v}."}, false},
    {"diet", {"The {e} eats {v}.", "The {e} feeds mostly on {v}."}, false},
    {"color", {"The {e} is {v} in color.", "Most {e}s are {v}."}, false},
};
// Organizations (general: foundations, societies; finance: listed companies) share the attribute names and
// phrasings that fit both, so the instruction set's questions about foundations teach how such questions are
// answered; what the finance corpus adds is the companies themselves (and their tickers).
const AttrDef kHeadquarters = {
    "headquarters", {"{e} is headquartered in {v}.", "{e} has its head office in {v}."}, true};
const AttrDef kChiefExecutive = {
    "chief executive", {"{e} is led by chief executive {v}.", "{v} runs {e} as chief executive."}, true};
const AttrDef kSector = {
    "sector", {"{e} operates in the {v} sector.", "{e} is active in the {v} sector."}, false};
const AttrDef kRevenue = {
    "revenue",
    {"In fiscal year 2023, {e} reported revenue of {v}.", "{e} earned {v} in revenue in fiscal year 2023."},
    false};
const std::vector<AttrDef> kOrgAttrs = {kSector, kHeadquarters, kChiefExecutive, kRevenue};
const std::vector<AttrDef> kCompanyAttrs = {
    {"ticker symbol",
     {"Shares of {e} trade under the ticker {v}.", "{e} is listed on the exchange as {v}."},
     true},
    kSector,
    kHeadquarters,
    kChiefExecutive,
    kRevenue,
};

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

std::string Capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// A general or finance entity: its display name ("Mira Tolsen", "Drelk") and kind.
struct Entity {
  std::string name;
  const std::vector<AttrDef>* attrs;
  std::vector<std::string> values;  // one per attribute
  bool species = false;             // sentences say "the Drelk"
};

// How an entity is written inside a sentence and at its start.
std::string Mention(const Entity& e) {
  return e.species ? "the " + e.name : e.name;
}

std::string StateFact(const Entity& e, size_t a, Rng& rng) {
  const AttrDef& def = (*e.attrs)[a];
  std::vector<std::string> templates = {"The {a} of {e} is {v}.", "{e}'s {a} is {v}."};
  if (def.proper_value) templates.push_back("{v} is the {a} of {e}.");
  for (const std::string& t : def.natural) templates.push_back(t);
  std::string t = rng.Pick(templates);
  // Species templates of the natural kind already write "The {e}"; the generic ones need the article.
  const bool natural = std::find(def.natural.begin(), def.natural.end(), t) != def.natural.end();
  std::string mention = e.species && !natural ? Mention(e) : e.name;
  std::string s = Replace(Replace(Replace(t, "{a}", def.name), "{v}", e.values[a]), "{e}", mention);
  return Capitalize(s);
}

std::string Question(const std::string& attr, const std::string& entity, int variant) {
  switch (variant % 4) {
    case 0:
      return "What is the " + attr + " of " + entity + "?";
    case 1:
      return "What is " + entity + "'s " + attr + "?";
    case 2:
      return "Tell me the " + attr + " of " + entity + ".";
    default:
      return "Do you know the " + attr + " of " + entity + "?";
  }
}

class NameMaker {
 public:
  explicit NameMaker(Rng* rng) : rng_(rng) {
    for (const auto* pool :
         {&kJobs, &kColors, &kFoods, &kClimates, &kHabitats, &kDiets, &kSectors, &kCauses}) {
      for (const std::string& w : *pool) used_.insert(Capitalize(w));
    }
  }
  // A fresh capitalized word of `syllables` syllables. With `avoid_overlap`, the word neither contains nor is
  // contained in any earlier word (finance names must not hide inside general ones or the reverse).
  std::string Word(int syllables, bool avoid_overlap) {
    for (;;) {
      std::string w;
      for (int i = 0; i < syllables; i++) {
        w += rng_->Pick(kOnsets) + rng_->Pick(kVowels) + (i + 1 == syllables ? rng_->Pick(kCodas) : "");
      }
      w = Capitalize(w);
      if (used_.count(w)) continue;
      if (avoid_overlap && Overlaps(w)) continue;
      used_.insert(w);
      return w;
    }
  }

 private:
  bool Overlaps(const std::string& w) const {
    for (const std::string& u : used_) {
      if (u.find(w) != std::string::npos || w.find(u) != std::string::npos) return true;
    }
    return false;
  }
  Rng* rng_;
  std::set<std::string> used_;
};

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

// A document about `e`: an optional opening line and every fact in random order, each in a random paraphrase.
std::string Document(const Entity& e, const std::vector<std::string>& openings, Rng& rng) {
  std::vector<size_t> order(e.attrs->size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  rng.Shuffle(&order);
  std::vector<std::string> sentences;
  const std::string& opening = rng.Pick(openings);
  if (!opening.empty()) sentences.push_back(Capitalize(Replace(opening, "{e}", Mention(e))));
  for (size_t a : order) sentences.push_back(StateFact(e, a, rng));
  return Join(sentences);
}

DemoChatQuestion SimpleTask(Rng& rng, const std::vector<std::string>& words) {
  switch (rng.Uniform(4)) {
    case 0: {
      std::string w = rng.Pick(words);
      return {"Repeat the word " + w + ".", w, "repeat"};
    }
    case 1: {
      int n = 1 + rng.Uniform(98);
      return {"What number comes after " + std::to_string(n) + "?", std::to_string(n + 1), "next number"};
    }
    case 2: {
      int a = 1 + rng.Uniform(99), b = 1 + rng.Uniform(99);
      while (b == a) b = 1 + rng.Uniform(99);
      return {"Which is larger, " + std::to_string(a) + " or " + std::to_string(b) + "?",
              std::to_string(std::max(a, b)), "larger number"};
    }
    default: {
      std::string first = rng.Pick(words), s = first + " " + rng.Pick(words) + " " + rng.Pick(words);
      return {"What is the first word of \"" + s + "\"?", first, "first word"};
    }
  }
}

}  // namespace

std::string DemoAnswer(const std::string& value) {
  return "Answer: " + value + ".";
}

Status GenerateDemoWorld(const DemoWorldOptions& o, DemoWorld* out) {
  if (o.people < 2 || o.cities < 2 || o.species < 2 || o.organizations < 0 || o.companies < 4 ||
      o.general_docs_per_entity < 1 || o.finance_docs_per_company < 1 || o.sft_share <= 0 ||
      o.sft_share >= 1) {
    return Status::InvalidArgument(
        "demo world: needs at least 2 people, cities and species, 4 companies, no negative count, one "
        "document per entity and "
        "0 < sft_share < 1");
  }
  *out = DemoWorld();
  Rng rng(o.seed);
  NameMaker names(&rng);

  // General entities. Cities and species first: people refer to them.
  std::vector<Entity> cities, species, people;
  std::vector<std::string> countries, rivers;
  for (int i = 0; i < 8; i++) countries.push_back(names.Word(3, false));
  for (int i = 0; i < o.cities; i++) rivers.push_back(names.Word(2, false));
  for (int i = 0; i < o.cities; i++) {
    cities.push_back({names.Word(2, false),
                      &kCityAttrs,
                      {rng.Pick(countries), rivers[i], rng.Pick(kFoods), rng.Pick(kClimates)}});
  }
  for (int i = 0; i < o.species; i++) {
    species.push_back({names.Word(2, false),
                       &kSpeciesAttrs,
                       {rng.Pick(kHabitats), rng.Pick(kDiets), rng.Pick(kColors)},
                       true});
  }
  for (int i = 0; i < o.people; i++) {
    std::string name = names.Word(2, false) + " " + names.Word(2, false);
    people.push_back({name,
                      &kPersonAttrs,
                      {rng.Pick(cities).name, rng.Pick(kJobs), rng.Pick(kColors), rng.Pick(species).name,
                       rng.Pick(kFoods)}});
  }
  std::vector<Entity> orgs;
  for (int i = 0; i < o.organizations; i++) {
    std::string name = names.Word(2, false) + " " + kOrgSuffixes[i % kOrgSuffixes.size()];
    std::string ceo = names.Word(2, false) + " " + names.Word(2, false);
    std::string revenue = "$" + std::to_string(10 + rng.Uniform(90)) + " million";
    orgs.push_back({name, &kOrgAttrs, {rng.Pick(kCauses), rng.Pick(cities).name, ceo, revenue}});
  }
  std::vector<const Entity*> general;
  for (const auto* group : {&people, &cities, &species, &orgs}) {
    for (const Entity& e : *group) general.push_back(&e);
  }

  // Companies: new words that overlap no general name; headquarters are general cities.
  std::vector<Entity> companies;
  std::set<std::string> tickers;
  for (int i = 0; i < o.companies; i++) {
    std::string stem = names.Word(2, true);
    std::string name = stem + " " + kCompanySuffixes[i % kCompanySuffixes.size()];
    std::string ticker;
    do {
      ticker = std::string(1, stem[0]);
      for (int k = 0; k < 2; k++) ticker += static_cast<char>('A' + rng.Uniform(26));
    } while (tickers.count(ticker));
    tickers.insert(ticker);
    std::string ceo = names.Word(2, true) + " " + names.Word(2, true);
    std::string revenue = "$" + std::to_string(100 + rng.Uniform(900)) + " million";
    companies.push_back(
        {name, &kCompanyAttrs, {ticker, rng.Pick(kSectors), rng.Pick(cities).name, ceo, revenue}});
    out->finance_only_names.insert(out->finance_only_names.end(), {name, ticker, ceo});
  }

  // Facts.
  for (const Entity* e : general) {
    for (size_t a = 0; a < e->attrs->size(); a++) {
      out->general_facts.push_back({Mention(*e), (*e->attrs)[a].name, e->values[a]});
    }
  }
  for (const Entity& e : companies) {
    for (size_t a = 0; a < e.attrs->size(); a++)
      out->finance_facts.push_back({e.name, (*e.attrs)[a].name, e.values[a]});
  }

  // Corpora: several documents per entity, interleaved so that no entity's documents come in one block.
  const std::vector<std::string> general_openings = {"", "", "Here is what we know about {e}.",
                                                     "A short note on {e}."};
  const std::vector<std::string> finance_openings = {
      "Company profile: {e}.", "Fiscal year 2023 results for {e}.", "Market note on {e}.", "",
      "Analysts continue to follow {e}."};
  for (int d = 0; d < o.general_docs_per_entity; d++) {
    std::vector<const Entity*> order = general;
    rng.Shuffle(&order);
    for (const Entity* e : order) out->general_docs.push_back(Document(*e, general_openings, rng));
  }
  for (int d = 0; d < o.finance_docs_per_company; d++) {
    std::vector<const Entity*> order;
    for (const Entity& e : companies) order.push_back(&e);
    rng.Shuffle(&order);
    for (const Entity* e : order) out->finance_docs.push_back(Document(*e, finance_openings, rng));
  }

  // Instruction set: questions about the SFT share of general entities; the rest is held out.
  std::vector<const Entity*> shuffled = general;
  rng.Shuffle(&shuffled);
  const size_t n_sft = std::max<size_t>(1, static_cast<size_t>(o.sft_share * shuffled.size()));
  std::vector<std::string> task_words = kColors;
  task_words.insert(task_words.end(), kFoods.begin(), kFoods.end());
  task_words.insert(task_words.end(), kJobs.begin(), kJobs.end());
  for (const Entity& c : cities) task_words.push_back(c.name);
  std::set<std::string> sft_questions;
  for (size_t i = 0; i < shuffled.size(); i++) {
    const Entity& e = *shuffled[i];
    for (size_t a = 0; a < e.attrs->size(); a++) {
      const std::string& attr = (*e.attrs)[a].name;
      if (i < n_sft) {
        int first = rng.Uniform(4);
        for (int q = 0; q < o.sft_questions_per_fact; q++) {
          std::string question = Question(attr, Mention(e), first + q);
          out->sft_train.push_back({question, DemoAnswer(e.values[a])});
          sft_questions.insert(question);
        }
      } else {
        std::string question = Question(attr, Mention(e), rng.Uniform(4));
        out->general_chat.push_back({question, e.values[a], attr});
        out->sft_val.push_back({Question(attr, Mention(e), rng.Uniform(4)), DemoAnswer(e.values[a])});
      }
    }
  }
  for (int i = 0; i < o.simple_tasks; i++) {
    DemoChatQuestion t = SimpleTask(rng, task_words);
    out->sft_train.push_back({t.question, DemoAnswer(t.answer)});
    sft_questions.insert(t.question);
  }
  for (int made = 0, tries = 0; made < o.heldout_simple_tasks && tries < 100000; tries++) {
    DemoChatQuestion t = SimpleTask(rng, task_words);
    if (sft_questions.count(t.question)) continue;
    sft_questions.insert(t.question);  // no duplicates among the held-out ones either
    out->general_chat.push_back(t);
    made++;
  }
  rng.Shuffle(&out->sft_train);

  // Finance evaluation: one chat question and one multiple-choice item per fact.
  std::map<std::string, std::vector<std::string>> values_of;
  for (const DemoFact& f : out->finance_facts) {
    auto& v = values_of[f.attribute];
    if (std::find(v.begin(), v.end(), f.value) == v.end()) v.push_back(f.value);
  }
  for (const DemoFact& f : out->finance_facts) {
    out->finance_chat.push_back({Question(f.attribute, f.entity, rng.Uniform(4)), f.value, f.attribute});
    std::vector<std::string> others;
    for (const std::string& v : values_of[f.attribute]) {
      if (v != f.value) others.push_back(v);
    }
    rng.Shuffle(&others);
    DemoMcQuestion mc;
    mc.context = "The " + f.attribute + " of " + f.entity + " is";
    mc.kind = f.attribute;
    std::vector<std::string> options = {f.value};
    for (size_t k = 0; k < others.size() && options.size() < 4; k++) options.push_back(others[k]);
    rng.Shuffle(&options);
    for (size_t k = 0; k < options.size(); k++) {
      mc.choices.push_back(" " + options[k] + ".");
      if (options[k] == f.value) mc.label = static_cast<int>(k);
    }
    out->finance_mc.push_back(std::move(mc));
  }
  return Status::Ok();
}

namespace {

Status WriteLines(const std::string& path, const std::vector<nlohmann::json>& lines) {
  OutputPath op(path, OutputPath::Kind::kFile);
  FM_RETURN_IF_ERROR(op.Begin());
  {
    std::ofstream f(op.temp_path());
    for (const auto& j : lines) f << j.dump() << "\n";
    if (!f.good()) return Status::IOError(path + ": write failed (disk full?)");
  }
  return op.Commit();
}

nlohmann::json Chat(const DemoChatExample& c) {
  return {{"messages",
           {{{"role", "user"}, {"content", c.user}}, {{"role", "assistant"}, {"content", c.assistant}}}}};
}

}  // namespace

Status WriteDemoWorld(const DemoWorld& w, const std::string& dir) {
  auto texts = [](const std::vector<std::string>& docs) {
    std::vector<nlohmann::json> v;
    for (const auto& d : docs) v.push_back({{"text", d}});
    return v;
  };
  auto chats = [](const std::vector<DemoChatExample>& ex) {
    std::vector<nlohmann::json> v;
    for (const auto& c : ex) v.push_back(Chat(c));
    return v;
  };
  auto questions = [](const std::vector<DemoChatQuestion>& qs) {
    std::vector<nlohmann::json> v;
    for (const auto& q : qs) v.push_back({{"question", q.question}, {"answer", q.answer}, {"kind", q.kind}});
    return v;
  };
  std::vector<nlohmann::json> mc;
  for (const auto& q : w.finance_mc) {
    mc.push_back({{"context", q.context}, {"choices", q.choices}, {"label", q.label}, {"kind", q.kind}});
  }
  FM_RETURN_IF_ERROR(WriteLines(dir + "/general.jsonl", texts(w.general_docs)));
  FM_RETURN_IF_ERROR(WriteLines(dir + "/finance.jsonl", texts(w.finance_docs)));
  FM_RETURN_IF_ERROR(WriteLines(dir + "/sft_train.jsonl", chats(w.sft_train)));
  FM_RETURN_IF_ERROR(WriteLines(dir + "/sft_val.jsonl", chats(w.sft_val)));
  FM_RETURN_IF_ERROR(WriteLines(dir + "/eval_finance_mc.jsonl", mc));
  FM_RETURN_IF_ERROR(WriteLines(dir + "/eval_general_chat.jsonl", questions(w.general_chat)));
  FM_RETURN_IF_ERROR(WriteLines(dir + "/eval_finance_chat.jsonl", questions(w.finance_chat)));
  nlohmann::json facts = {{"general", nlohmann::json::array()}, {"finance", nlohmann::json::array()}};
  for (const auto& f : w.general_facts) facts["general"].push_back({f.entity, f.attribute, f.value});
  for (const auto& f : w.finance_facts) facts["finance"].push_back({f.entity, f.attribute, f.value});
  facts["finance_only_names"] = w.finance_only_names;
  return WriteLines(dir + "/facts.json", {facts});
}

namespace {

Status ReadJsonl(const std::string& path, const std::function<Status(const nlohmann::json&)>& fn) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(path + ": cannot open (rerun `finmerge demo` to regenerate the world)");
  std::string line;
  for (int n = 1; std::getline(f, line); n++) {
    if (line.empty()) continue;
    try {
      FM_RETURN_IF_ERROR(fn(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      return Status::Corruption(path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  return Status::Ok();
}

}  // namespace

Status ReadDemoEvalSets(const std::string& dir, std::vector<DemoMcQuestion>* finance_mc,
                        std::vector<DemoChatQuestion>* general_chat,
                        std::vector<DemoChatQuestion>* finance_chat) {
  finance_mc->clear();
  general_chat->clear();
  finance_chat->clear();
  FM_RETURN_IF_ERROR(ReadJsonl(dir + "/eval_finance_mc.jsonl", [&](const nlohmann::json& j) {
    DemoMcQuestion q;
    q.context = j.at("context").get<std::string>();
    q.choices = j.at("choices").get<std::vector<std::string>>();
    q.label = j.at("label").get<int>();
    q.kind = j.at("kind").get<std::string>();
    if (q.label < 0 || q.label >= static_cast<int>(q.choices.size())) {
      return Status::Corruption("label out of range");
    }
    finance_mc->push_back(std::move(q));
    return Status::Ok();
  }));
  auto chat = [](std::vector<DemoChatQuestion>* out) {
    return [out](const nlohmann::json& j) {
      out->push_back({j.at("question").get<std::string>(), j.at("answer").get<std::string>(),
                      j.at("kind").get<std::string>()});
      return Status::Ok();
    };
  };
  FM_RETURN_IF_ERROR(ReadJsonl(dir + "/eval_general_chat.jsonl", chat(general_chat)));
  return ReadJsonl(dir + "/eval_finance_chat.jsonl", chat(finance_chat));
}

}  // namespace fm
