//! `cargo xtask fetch-data [--from DIR] [--to DIR]`: puts the three benchmark data sets where
//! the dataset plugins read them, and verifies every file's sha256.
//!
//! The layout is the one the plugins' defaults expect under `$JOULEBENCH_DATA`:
//! `mmlu/{test,dev,val}/<subject>_<split>.csv`, `hellaswag/hellaswag_val_full.txt`,
//! `winogrande/dev.jsonl` and `winogrande/dev-labels.lst`: 174 files, each with the sha256 in
//! [`SHA256SUMS`] (the `SHA256SUMS` of the data the project was built against).
//!
//! - Without `--from`, the files are downloaded (with `curl`, else `python3`) from their public
//!   sources, at pinned commits (see [`url_of`]): MMLU from the official release's CSVs as
//!   committed in `stanford-cs336/assignment5-alignment`, HellaSwag from
//!   `klosax/hellaswag_text_data` (the text file llama.cpp reads), Winogrande from the 1.1.beta
//!   release files committed in `Anthony-Alridge/wsc`. Downloads land in a staging folder and
//!   only verified files move into place.
//! - With `--from DIR`, they are copied from a folder laid out the same way (a copy of
//!   `shared/datasets`, say), verified on the way.
//!
//! The destination is `--to DIR`, else `$JOULEBENCH_DATA`, else
//! `$XDG_CACHE_HOME/joulebench/data`, else `~/.cache/joulebench/data`. Files already there with
//! the right sha256 are left alone. Std only: sha256 is computed here.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{DynError, partial};

/// Every file, relative to the data folder, with its sha256, in `sha256sum` format.
const SHA256SUMS: &str = "\
d572539320eb2050e858ca34b495bbe2103e3b3f1391a9c3bcdf215b0bb93bd1  hellaswag/hellaswag_val_full.txt
bd8c73f3c75bea9db82d281d9da6949cea687b987dba24a142c638e758046624  mmlu/dev/abstract_algebra_dev.csv
0985685cf5ab13ccc1629f03a1308a9add8767582ffeb195b68b18c3415c9993  mmlu/dev/anatomy_dev.csv
bb03eca519a3fbc04017dc4783635763ac928f0811ce6243dbcbf0d526dbe1e3  mmlu/dev/astronomy_dev.csv
7cd487e4ba7d9fe423bcc259ad852e963dc370629b8d61881b61ed0ae84c0b46  mmlu/dev/business_ethics_dev.csv
13c88c266cf2a8aa20a062e9b901ee372431e75669fa3c80865613fa2b7f61af  mmlu/dev/clinical_knowledge_dev.csv
31f4ae0707ba3f742e0d5546ff970949be8a05e217921fe87b1814d6a0ab8184  mmlu/dev/college_biology_dev.csv
9ba27ba571b8ad40d35a2a88a60acf434ca5f37962c2eba8f9d0aa89edb4c1c7  mmlu/dev/college_chemistry_dev.csv
fc1a43187cd68390d663e0a1849688b13a4cd75ab17616558f4e584a4a8ae2bd  mmlu/dev/college_computer_science_dev.csv
27731ee1402e720ee01ad6fa6a969a0d0978a0e9b4c385d328a61869a43f321f  mmlu/dev/college_mathematics_dev.csv
63928a944fda769d7e52a3a4549d4f37f094896e65e7db35029261e1ae79909b  mmlu/dev/college_medicine_dev.csv
6e043d6c566091c5ad1d8bc1d002900e1aa0bff114f98d5e3f2e4f645efce100  mmlu/dev/college_physics_dev.csv
09e276300dbd2d07906dbe4ff82aabf45b9765f933eb7d0f35ea3ea97dee8020  mmlu/dev/computer_security_dev.csv
5e65be1f6fdd82f4887e3747af790a747191b1b732dd2bea76306388d5ee3719  mmlu/dev/conceptual_physics_dev.csv
7a01a925199c246decd0f1fc7a1b8dc28136b19d793e5b1e0d97142c118a2940  mmlu/dev/econometrics_dev.csv
5aad11b1d1c8dc1a431c3e79a047cba56d691a60403ddffaf5fbd45e9c82bc0d  mmlu/dev/electrical_engineering_dev.csv
9aca9cd215b7c170020fd5f7db1c9c3d5cbf6df9ee7b970a4810649a87245011  mmlu/dev/elementary_mathematics_dev.csv
e4b579358ed4878f6c91bfea0ccc51efdd15a28401f86da9ee8f6c0af37cf36d  mmlu/dev/formal_logic_dev.csv
685577fc3f0bf09a3f5c741ef062d6328aec843069862b83b64eb3638466505f  mmlu/dev/global_facts_dev.csv
6a200085c150794846d4bab43bb0e22ceec9f99576dfc25f5c5d8faa9595ae13  mmlu/dev/high_school_biology_dev.csv
1ba44aeea98ca22342b6525a3a9ebb62003b2a8289fa42d7c844e2139557ec5b  mmlu/dev/high_school_chemistry_dev.csv
5de3800dfbbfaa89050413a765deaf774fdb0611e370951383fb50fac774663e  mmlu/dev/high_school_computer_science_dev.csv
a3677065cf51abc32901cdcf88ed64121f5595e3a5a67f86ae2570f866fe87c5  mmlu/dev/high_school_european_history_dev.csv
e43fc27b9fa8b808773a2871007b39e012a1cc1ec902f85d85cc9c27cc12883d  mmlu/dev/high_school_geography_dev.csv
daf013a3eae04b5904e6a706cf0574df2c881e00d46a979cb34c6e2968ad1c90  mmlu/dev/high_school_government_and_politics_dev.csv
23ed995071c47e627c4e6adbce63a9144920441abb7e69f8b4dfac5fdc4e402d  mmlu/dev/high_school_macroeconomics_dev.csv
d7401d5cbad5ae697bfa480e35d85de8ebf1232589a3c59b010782ee49cbe18c  mmlu/dev/high_school_mathematics_dev.csv
a409b422561f1fb02e6d1bc044657cfff7779b13146edfd937d2573423c2c49b  mmlu/dev/high_school_microeconomics_dev.csv
5f008c3a44e7b14d86f6c1cbde28892fd0d97ae424e8af9901d75c4ee03972cc  mmlu/dev/high_school_physics_dev.csv
b39b304a436fa6239a4bb8c1dc4ca3693edec2876926851f3d512d1da9e280ab  mmlu/dev/high_school_psychology_dev.csv
9441f8da50bfb93158d9b2645909cf1bc5837e8078c0eab923cf0fe761f7754e  mmlu/dev/high_school_statistics_dev.csv
028b3c81c7be1138ad50b4afa1835773788e4557426a40abfaf132b11edab541  mmlu/dev/high_school_us_history_dev.csv
b6e87a14718b0415241dfe10dd86605de5b6e5995fa57580e9e2d7c56fe147a1  mmlu/dev/high_school_world_history_dev.csv
d2439fb3c2292e7dca8244cd98dd7ca746f8424347f171345f6b396f568b0870  mmlu/dev/human_aging_dev.csv
0da7f8f7aeb6d5a08f0413489aa5d5b84ff8ac971952ea66242762f779cb6794  mmlu/dev/human_sexuality_dev.csv
6f7f1c0191c0bcfe195d0ed39942a605012967a04d855c6482dc7e7a9f95e4d8  mmlu/dev/international_law_dev.csv
27533d974102031088bc5c47fc008538ab3d08ca75e127fb64ff04cdd1562da2  mmlu/dev/jurisprudence_dev.csv
4de026c2d116c381dcc1b65e91a28ba3d124398f920b0f3904ec5b641deb28f4  mmlu/dev/logical_fallacies_dev.csv
e4b1b09985dbdc499d51a2a2e83d93ae05bfe72ea7407c18e3aa3d2ab9ce7517  mmlu/dev/machine_learning_dev.csv
f75224958ab245d86c335d6886f8689247a9f83691ad63bb7ef3196641be9e52  mmlu/dev/management_dev.csv
15b3cf450ebc11e122886a5bad41e78260228259fa184eaa4ba566bdf37f0315  mmlu/dev/marketing_dev.csv
70cd9ff940bef360693eeb4e05b5b8e53ad75a81d6b74a784222d4cae6dcb896  mmlu/dev/medical_genetics_dev.csv
72f74676c37fe477720d8b55e84517bd21daf1fe24f99dd33f1b0a636d31782e  mmlu/dev/miscellaneous_dev.csv
c80d35650189d23777fff1a4a53ff4387128c2536cbbd417d7e9103eeeb0d054  mmlu/dev/moral_disputes_dev.csv
dbe2196287f89a6c4be4f31a1897bf0d0f8612a5ab22451a856496df2e0c5100  mmlu/dev/moral_scenarios_dev.csv
84444f3a5c5bf3ccbe87f361b8dca56b9e0c5594fda2c4b558c66c37f47f5b24  mmlu/dev/nutrition_dev.csv
587be220837bbe089702aa27cda03fbf72a7b959a9a4425e70d598026614cf11  mmlu/dev/philosophy_dev.csv
f62e146bc64a3335bafde9af63b43e4a863246da743cd49f6daf5d5e9614ff81  mmlu/dev/prehistory_dev.csv
efc070ed71676829c67497542e3571f50a868036a17f93d00a56a4f85767ae0d  mmlu/dev/professional_accounting_dev.csv
15d8589900ccf4725e1bad17837d48cc18c8bf033cd9b5d6bacf28a2a8f1064f  mmlu/dev/professional_law_dev.csv
486456d578890d4700dd8044ac236c8ac2ee3389e35fc81ac37529f4f4487785  mmlu/dev/professional_medicine_dev.csv
222e690db42dfb217a7c56a6ac693b73cf0168e344d75f28618c62ad9d2c0261  mmlu/dev/professional_psychology_dev.csv
8895f665f4c696ae76d34210546d0ab4b21b79d2fd8534cd2e8002e8ed0969dc  mmlu/dev/public_relations_dev.csv
c726278f37ce15489b22190771041bd459065016e3891148ef147ae7cf1a0c35  mmlu/dev/security_studies_dev.csv
2e2bb34b4cabdc50e2c43097d1cfe91560224f9e1224adc19a01e922d1c49414  mmlu/dev/sociology_dev.csv
3a9677a89fd67c3a891671a2a6a14ff69ab37bdd54fb687c2f8334c8a3fa1543  mmlu/dev/us_foreign_policy_dev.csv
30af41f604f2ee7f5585361df6a7022b4eaf126eeb91494f225841908f06034a  mmlu/dev/virology_dev.csv
d4f7550bb8a32a599dc2ffa0a53e85e81096f441bcca1be3a412d690ade8eaa0  mmlu/dev/world_religions_dev.csv
4be89c0fb1d2419722e88880f6da3da95750367185ecd36f6492a6f74785cf64  mmlu/test/abstract_algebra_test.csv
966dfd5c4579885ebdb8c05d6754ae5834f672632586d8595be3c0f9360e6f4e  mmlu/test/anatomy_test.csv
87c9c3cb5a55395c70dd9ed521dd7d2629fd4ff236c5ab647102e007f52a9341  mmlu/test/astronomy_test.csv
cd3fc3a85a34cb17e6c5b2fb68ea61e7800b31120d92934019f1e17f4832fbd4  mmlu/test/business_ethics_test.csv
06a1ea973000d5ef5d2664c4ac1c68d0423f1cab6b3b682be7942633740811f1  mmlu/test/clinical_knowledge_test.csv
e1204cb9d19887ea266145f038b5d4cc1fbc33d7efce186259c4ecca1cbe3119  mmlu/test/college_biology_test.csv
4d61d7887f845b887c52ac928b6dffdcf2468d79f3d0fbb4d1731092a51d2552  mmlu/test/college_chemistry_test.csv
d53a1d0d1c4362dacf92a4ff1d6a755beb5a87f24a7301c3c4391fcacc6530b4  mmlu/test/college_computer_science_test.csv
8b5bef14d4209c7918eaf947e4f12a5ae9470567722d8ba9761302d733e8ac71  mmlu/test/college_mathematics_test.csv
9c533cfff89edaa317b2e79bbabcdd5e2e522e019679cb4a6475e5f2a1861b1e  mmlu/test/college_medicine_test.csv
079c3696eda22c13b0472de245c7bb4918315b59481964109a4f65d2a35b4243  mmlu/test/college_physics_test.csv
8e40f809858db9dd8585036b53984e570b6101f72be2214b85e979c7fafa307f  mmlu/test/computer_security_test.csv
7b39a241bb20424fd2a4e0e37ce05d94865ffc44191d8be4063be0e973312256  mmlu/test/conceptual_physics_test.csv
10eb6b2d3a519a463872ef75902991b51ebf45865b29888e86d40228ace24029  mmlu/test/econometrics_test.csv
8b0d747a97cb2cbbd8926c8deb2cda6073da6d5d3cc099693aa7761be938f5e4  mmlu/test/electrical_engineering_test.csv
65a46a0e1927ea37aabd031ddcb6d81eef70a7eee1e9e0af94ec8e3fa21d728b  mmlu/test/elementary_mathematics_test.csv
bc2dc7373a664ae72e166dcbe3f7aaf1bb65b99f106f1831f335c53467f35248  mmlu/test/formal_logic_test.csv
a81058ee8e2385edaf42b8847ec9db01221fa4b16d262db415f3370884745ff9  mmlu/test/global_facts_test.csv
cfaba2b58b9714d2a6983a90bce17f14cc44cfc8195b20f8f65fef70d21331b9  mmlu/test/high_school_biology_test.csv
0e3d94da331d1eb3cafecd64a6f0f64e6fd2410b0a76676b2c0728dc5c1374f5  mmlu/test/high_school_chemistry_test.csv
63806168fb0e5a72fe5bfb880f19816d8997e28d3f312c6b1831f4d40f432059  mmlu/test/high_school_computer_science_test.csv
09983655452c3c40ba466050ec82252f02a235e5946734f4d73b73688fc9509b  mmlu/test/high_school_european_history_test.csv
c6acdaa9d94c88cdefb9dd569e376733d9ba670c07db12cdff36ccdc18c2ab0c  mmlu/test/high_school_geography_test.csv
fbd7a89eb2c7806097e18b40950e44e0580e6f97cd151f01a216bb575c2d7903  mmlu/test/high_school_government_and_politics_test.csv
354b12cc74d2806c44d1fea42efba04ec12f10233e5169466080a1d1a6f8bba5  mmlu/test/high_school_macroeconomics_test.csv
fe8f7a154834bba30947401ba37ea6c7afdcfba82ddc341c79b5d3016991d290  mmlu/test/high_school_mathematics_test.csv
a250cc4976654e479cecdb7b66046ce2412df3e5e1b9c3d145ed344eae9a2256  mmlu/test/high_school_microeconomics_test.csv
573e0f8d8309e4669f53a4b13248a908507b6d5d4c97c977f7bb9814658fee54  mmlu/test/high_school_physics_test.csv
88c33b6b0ade567d07b8b5b074effdb52f31d773541fd71e86cb0d85a8daf7bf  mmlu/test/high_school_psychology_test.csv
d62843d2fd084d6af1c8a0a6491d0aa642c34a7a68476605b9b3db5841e63d3f  mmlu/test/high_school_statistics_test.csv
0338dea3b11881be53c2208ae8dbb571c792c0dca6f0b36a352147c0be81625e  mmlu/test/high_school_us_history_test.csv
7787343ae18e4e1ef833c8630c0c914c62f42c2f35d8b90f4bec2eecccfc161e  mmlu/test/high_school_world_history_test.csv
01299d7e0ae4a8d082daeecc140445ce7393b464040bd810b0a60a370ae5502e  mmlu/test/human_aging_test.csv
43ca779587725f126d07733b33ba339ce27cca6f85056872eccf4b0377e28a90  mmlu/test/human_sexuality_test.csv
51b3a6d74cc84651b2355d2823c30d993015ddfe8ef39725da4e0442f29489fc  mmlu/test/international_law_test.csv
bf7a770aebfbdb181abc2c26ffd7a01ab31f93c7e2dfe6924c57c7bca4a0dff6  mmlu/test/jurisprudence_test.csv
3fe8b48c74832525556455d49960cc0c3cff37496783348043ff69a1863c2244  mmlu/test/logical_fallacies_test.csv
05984b90f887a7da12b3dd8e41e6c34fa856b2c939ea3124975d90910ceb2af0  mmlu/test/machine_learning_test.csv
4a535a11bb480a09a302e86d157ae2d33e054cfa00e4265fe300a9408b87ec6b  mmlu/test/management_test.csv
ecf0ae0ae906194d033ca7d7746eaf201232eccb78ee24147e737473f751233d  mmlu/test/marketing_test.csv
cc30c698e94f12c00e610a39c62d1a1d9587fa53c005359317346081f722c5e6  mmlu/test/medical_genetics_test.csv
061b283bb264072321d848b3b7f409a932a11ffa023fc94898dd31d2a4c80c7e  mmlu/test/miscellaneous_test.csv
673f5e9054f55fc5e165a3ed01e1b13eb1ee5a3405055818b50532e05de9bfdd  mmlu/test/moral_disputes_test.csv
128d7bd823d793f8b7faf28f98f4b3c737b3e84d4b42c06c13458d36075a423a  mmlu/test/moral_scenarios_test.csv
309432be237ac2b659acd10fdd4347d32cdc60aa9daeafbac78486a8744fa0b6  mmlu/test/nutrition_test.csv
a0f0c6fc9e4f08c04ff3a339996c4ed688a9fbe75d205fff4b9d3549fb49fa1e  mmlu/test/philosophy_test.csv
8d44938332ea3d199cfa51a18ef69af972aa33ca4af7b5f5bc62e768a31f949a  mmlu/test/prehistory_test.csv
27071efa2f8fd8502d01e80b8d7c69439586019f59e416ce039968417ef41355  mmlu/test/professional_accounting_test.csv
eeb81cac576a5f537485b6befd25837b55f64b57e9b2a7e409210d7c8d608820  mmlu/test/professional_law_test.csv
a034bf0dda10cb0848bdd3097eb1547d61ca2dac9e9b871563691621c38d51e9  mmlu/test/professional_medicine_test.csv
99785591dfe18717736c0c296c9d9840c832f98749060975f7e2d976ad204bf7  mmlu/test/professional_psychology_test.csv
3712f955d0c38b073b188a175a8d9a6ce64601f0ae9c98d8cfc37461c4cb5933  mmlu/test/public_relations_test.csv
ab7634702670ee0d5e98b852f5bcfad2821ff9a2e909d223de05422c948f6638  mmlu/test/security_studies_test.csv
f6c464600032aa2bb53294ad53217fbb650601eee206af947b3ce4c587ff5bed  mmlu/test/sociology_test.csv
2821ee009a2b1b7d4adc5a212a0bad7fe05d377455de0fe0841beab8f00142e1  mmlu/test/us_foreign_policy_test.csv
4355b9d79142da0e44a767a495a277733fd89ad67236cbbe3f42ff3a6d46b483  mmlu/test/virology_test.csv
3be96b2465419289c4fe0c8a0d003003facd243c8982c6daafc6ac90a40bd507  mmlu/test/world_religions_test.csv
ab0c6d19c4523969ec7b553ed49adecdb9cc00decc76c26c56c42ba198d8047c  mmlu/val/abstract_algebra_val.csv
09e9959486ebf3643e4ecbf173a77b029c6f08665ab8f89daf99399956f26b8e  mmlu/val/anatomy_val.csv
3dbe51f827890dd079e04c8ab024c5a2a7829033cd16913744af99f7b3a46328  mmlu/val/astronomy_val.csv
929daf023cce06fa7558595ff8c329a3c9211693f8a46977997435da52876cc3  mmlu/val/business_ethics_val.csv
85f87578c62618aeb64778fd9831201430e36e58d01e62b32fb8d2babc8bd516  mmlu/val/clinical_knowledge_val.csv
f624eaf75ee2add75a9f2b189bb703e0a2591981d45c60bb5f9dcd9bfe168456  mmlu/val/college_biology_val.csv
7d0594e7f35c83099ad2a23dc424cd1073dbf5883d7254b60395fd1642d860a7  mmlu/val/college_chemistry_val.csv
4f7a08808c39218f0a8a8b945cadcc40dbf3d254962e620f7dccdea8a0596259  mmlu/val/college_computer_science_val.csv
12621b0f192fe8773cac843c5bdc4777cc81d66b31c41188a3096e20dde143f8  mmlu/val/college_mathematics_val.csv
9a490f6aaeb2e7c15cc8ce4c5745ff449568971ac447c4aa616858f7f4dcef35  mmlu/val/college_medicine_val.csv
55c80f8fdd225c5ff57ab952d583fa5f20ac719e2432e9062fd5fb00e4abe42e  mmlu/val/college_physics_val.csv
52faa1f86a4fa029d1953443ac636c359c9487efa1259d6212ea052018bc1582  mmlu/val/computer_security_val.csv
dba647511d25b8defe1325268913d5b5853f3692af104176b88948bf89f06b95  mmlu/val/conceptual_physics_val.csv
062b8b3ae560c7bf1bde9fb64958949ce74093eec3761dc3227e6e777168aaf1  mmlu/val/econometrics_val.csv
31462254765b0525942d28da430d168dc012c64fd63140ee7c4d1cb42ebea6f5  mmlu/val/electrical_engineering_val.csv
bc9806fe460cac380621592710b4eb64051151f7adfc7d87bfc4616a4473cff9  mmlu/val/elementary_mathematics_val.csv
306d64079d5a16516470cc059e8e313abc06ceeec8c1131af582e30fb6f21667  mmlu/val/formal_logic_val.csv
c32a9e14e2994414db70cbc85d89671f31be7ab3cc16fa905f8346e0c9e4061c  mmlu/val/global_facts_val.csv
c0b264a94514f7326499c11e2b69f3991655391208d7c58c40b55e97404d4549  mmlu/val/high_school_biology_val.csv
ed0c2c9846a709332f679a14dc0f99b68d61b6161e7f86aaf9012a11f9617e3b  mmlu/val/high_school_chemistry_val.csv
5e40b8773655e59293ecf6a3e60346f3dc23273a808e64a9cd415b8dd2d55381  mmlu/val/high_school_computer_science_val.csv
82f2bbbf8148f3c7bfe8936278f8b3713686b5aa0bba43cadf4f59b7f8d192f2  mmlu/val/high_school_european_history_val.csv
94444fda55747826967db7d9eb4a977edc34a64c0cdf2a8e865c382a8610d96b  mmlu/val/high_school_geography_val.csv
0fd2fd6ec975ed75c36eb6b826e4906ccdfa0275b915fa5b97499e6906a87777  mmlu/val/high_school_government_and_politics_val.csv
3533d53f9f803657e25acd63fd98f2e24626008ff2fb793e2077feccd3d97f3c  mmlu/val/high_school_macroeconomics_val.csv
233f0811fb852a080f52c9e9cb3ce7cfb76f54661dd6f8fddfdac6b8e2a989b2  mmlu/val/high_school_mathematics_val.csv
51a6993ff0e2de9dcfc1c292efa4f4d983fd2397d5a28453c075272b7ba698f8  mmlu/val/high_school_microeconomics_val.csv
3861ace8d359bac8b8560481599212193d38120fc350082680d99ad2090eeb0e  mmlu/val/high_school_physics_val.csv
785e5c3e90eafb1cbeca4fd6c8d4d061d0358f5c4cdc5a916c77aa038cec0f9a  mmlu/val/high_school_psychology_val.csv
ee65f842e44b0f9ada3919f64459c9b6a7aec190a26be00e037289279574d63c  mmlu/val/high_school_statistics_val.csv
b28f9c1a3382cb1ccba85b70ed1a3f555a37b01788cc0b96f8be08a72b29d8b7  mmlu/val/high_school_us_history_val.csv
7ba62c498d5bbe64423f6dca9db97b8240b87aee8a8559cafe5bca0e8b82fd4b  mmlu/val/high_school_world_history_val.csv
5f4e2e4eebf704c4f19a6b54e58570b5f7d3928bedc807a24ff95dc296431de0  mmlu/val/human_aging_val.csv
3f8b1c5317703fd7974ba1a07393b2ce66e171bc9ae8d1230455d7f42f152346  mmlu/val/human_sexuality_val.csv
627a60c75899197670999963d6a2814b2bc7b4f7afc176a6bd665a0a2289a18a  mmlu/val/international_law_val.csv
a54d080420bbdb866fb18ff9eb6e8eb524df0dc1d25724997f73ac860fd3c8ec  mmlu/val/jurisprudence_val.csv
35820dc5ddf469d073691f4634edb87955902dd4d90b45f62f848ccd88dc4817  mmlu/val/logical_fallacies_val.csv
23ea00a670424f7f7f54c3d32a04f470983234ffa7c6356eab8f4f7c6150fce4  mmlu/val/machine_learning_val.csv
73f1407eedac9d6b02494b8e5292daa905993ed086883b56f4f0e52aea0e61bc  mmlu/val/management_val.csv
521b52fd9be14088e8b3194088edd4de306e960d4a15558a0b0ea5f074ab158c  mmlu/val/marketing_val.csv
03d44b759f35da638d7432bb7f050cc0bc5886497285980e91d387fe23478d6a  mmlu/val/medical_genetics_val.csv
ae3d2dd1438655b9de855bae3832d3ef05a48a71ccbbb935850761284574c521  mmlu/val/miscellaneous_val.csv
941826c9761dade3ebfb3a6a9c18e36994c3fcff2b10ffbe8830cf41b9e6cad0  mmlu/val/moral_disputes_val.csv
73735e0bf74f045cf611f5b356082f083a401f283b9187bb2510e60d8efbcf61  mmlu/val/moral_scenarios_val.csv
b9c542cf888e13a534cf23bcb603c9194829dd17c9fcfb116fbea068241302db  mmlu/val/nutrition_val.csv
e190e2653bf42254783e4ed04d8016e5aedcb050a4496d3de0d737f84c79755a  mmlu/val/philosophy_val.csv
08d0748aa24b77a3ca1e95897d6c77585c728b098a5a91501015552f1f331086  mmlu/val/prehistory_val.csv
865b30e9a3c8dedbcedf9f50ac290571a729e1c7968485b203d328e55bbf6dca  mmlu/val/professional_accounting_val.csv
175350a6b9a39a1f3118b3d700068f06ea1b59fa361d40f719fc3769c3e01601  mmlu/val/professional_law_val.csv
8ccce8d3ca49f2a8ff645a12151ec36f4d567b53bf146bcefcb44c993efd7392  mmlu/val/professional_medicine_val.csv
ef9cac4327293305ab3becdd4e8bc7ddeb56c3e43766ef4c9b8f506a3a69107c  mmlu/val/professional_psychology_val.csv
7acad9ec286d30324ecec4888789abf73903d8e3222cef8650e7f294310a7957  mmlu/val/public_relations_val.csv
5287f8757b00302ebcfddfe6c510e06a21c3b697e17cdefe40dfe180a619c6ca  mmlu/val/security_studies_val.csv
593bf2643ee40f288dc1104fe2994ec343e7db0f11970a9d449220daf4b38846  mmlu/val/sociology_val.csv
c427b2d9da8929924583eb4d6a32956d112cb9c43448225833c0d581a25ca1df  mmlu/val/us_foreign_policy_val.csv
bfd8a9560123c397d4697333b59e1230b4154c466c9361530381434e2c6fd401  mmlu/val/virology_val.csv
4352332375435709451e5782ede6700752db0b289602e572927d30ee0289125f  mmlu/val/world_religions_val.csv
5ae1e30f52a50b880515685dcfae7d57649cce256d375947cdd02f687de7e6ba  winogrande/dev-labels.lst
4609c7d725bd5095c0b8a5821d4df93500d650ce08b40fb65cfdac61a84a43af  winogrande/dev.jsonl
";

/// The entries of [`SHA256SUMS`]: (path relative to the data folder, sha256).
pub fn expected() -> Vec<(&'static str, &'static str)> {
    SHA256SUMS.lines().filter_map(|l| l.split_once("  ")).map(|(sum, rel)| (rel, sum)).collect()
}

const MMLU_BASE: &str = "https://raw.githubusercontent.com/stanford-cs336/assignment5-alignment/eb2c562e05802d3c9ee4c4ec2eec43b104d77e9e/data/";
const HELLASWAG_BASE: &str = "https://raw.githubusercontent.com/klosax/hellaswag_text_data/1105d370f8340eac3c63a91fd1fa58e8999f9505/";
const WINOGRANDE_BASE: &str = "https://raw.githubusercontent.com/Anthony-Alridge/wsc/de30c762c8c1c2e3455d50c73fd9d19f54a3b2b0/data/";

/// The public address of a file of [`SHA256SUMS`].
pub fn url_of(rel: &str) -> Option<String> {
    if rel.starts_with("mmlu/") {
        Some(format!("{MMLU_BASE}{rel}"))
    } else if let Some(name) = rel.strip_prefix("hellaswag/") {
        Some(format!("{HELLASWAG_BASE}{name}"))
    } else {
        rel.strip_prefix("winogrande/").map(|name| format!("{WINOGRANDE_BASE}{name}"))
    }
}

const USAGE: &str = "usage: cargo xtask fetch-data [--from DIR] [--to DIR]

  --from DIR   copy the data from DIR (laid out like shared/datasets) instead of downloading
  --to DIR     where to put it (default: $JOULEBENCH_DATA, else ~/.cache/joulebench/data)";

pub fn run(args: &[String]) -> Result<(), DynError> {
    let mut from = None;
    let mut to = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--from" => from = Some(PathBuf::from(it.next().ok_or("--from needs a folder")?)),
            "--to" => to = Some(PathBuf::from(it.next().ok_or("--to needs a folder")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let dest = match to {
        Some(dir) => dir,
        None => default_dest()?,
    };
    println!("data folder: {}", dest.display());
    remove_leftovers(&dest);
    let missing = missing_files(&dest)?;
    if missing.is_empty() {
        println!("all {} files are there and verified", expected().len());
        return Ok(());
    }
    match from {
        Some(src) => import(&src, &dest, &missing)?,
        None => download(&dest, &missing)?,
    }
    println!("{} files verified in {}", expected().len(), dest.display());
    if std::env::var_os("JOULEBENCH_DATA").is_none_or(|d| Path::new(&d) != dest) {
        println!("point the plugins at it with JOULEBENCH_DATA={}", dest.display());
    }
    Ok(())
}

pub fn default_dest() -> Result<PathBuf, DynError> {
    if let Some(dir) = std::env::var_os("JOULEBENCH_DATA").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(cache).join("joulebench/data"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache/joulebench/data")),
        None => Err("no destination: pass --to DIR, or set JOULEBENCH_DATA or HOME".into()),
    }
}

/// The entries of [`SHA256SUMS`] that `dest` lacks or holds with another sha256.
fn missing_files(dest: &Path) -> Result<Vec<(&'static str, &'static str)>, DynError> {
    let mut missing = Vec::new();
    for (rel, sum) in expected() {
        let path = dest.join(rel);
        if !path.is_file() || sha256_file(&path)? != sum {
            missing.push((rel, sum));
        }
    }
    Ok(missing)
}

/// Copies `files` from `src` into `dest`, verifying each; reports every file that is missing
/// or differs in `src`.
fn import(src: &Path, dest: &Path, files: &[(&str, &str)]) -> Result<(), DynError> {
    if !src.is_dir() {
        return Err(format!("{}: not a folder", src.display()).into());
    }
    let mut problems = Vec::new();
    for &(rel, sum) in files {
        let from = src.join(rel);
        let bytes = match std::fs::read(&from) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{}: {e}", from.display()));
                continue;
            }
        };
        let got = sha256_hex(&bytes);
        if got != sum {
            problems.push(format!("{}: sha256 {got}, expected {sum}", from.display()));
            continue;
        }
        place(&dest.join(rel), &bytes)?;
    }
    if problems.is_empty() {
        println!("imported {} files from {}", files.len(), src.display());
        Ok(())
    } else {
        Err(format!(
            "{} of {} files could not be imported:\n  {}",
            problems.len(),
            files.len(),
            problems.join("\n  ")
        )
        .into())
    }
}

/// The temporary name prefix of `path` while it is written: `.<name>.partial-` (then the pid).
fn partial_prefix(path: &Path) -> String {
    format!(".{}.partial-", path.file_name().unwrap_or_default().to_string_lossy())
}

/// Writes the verified `bytes` to `path` through a temporary file in the same folder, flushed
/// before it is renamed, so that a file is either whole or absent (see [`partial`]).
fn place(path: &Path, bytes: &[u8]) -> Result<(), DynError> {
    let dir = path.parent().ok_or_else(|| format!("{}: no parent folder", path.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dir.join(format!("{}{}", partial_prefix(path), std::process::id()));
    partial::write(&tmp, bytes)?;
    partial::commit(&tmp, path)
}

/// Removes what interrupted runs left in `dest`: temporaries of writers that are gone, and
/// the pid-less temporaries and staging folder of earlier versions.
fn remove_leftovers(dest: &Path) {
    partial::remove_stale(dest, ".fetch-data-partial-");
    let _ = std::fs::remove_dir_all(dest.join(".fetch-data-partial"));
    for (rel, _) in expected() {
        let path = dest.join(rel);
        let Some(dir) = path.parent() else { continue };
        let prefix = partial_prefix(&path);
        partial::remove_stale(dir, &prefix);
        let _ = std::fs::remove_file(dir.join(prefix.trim_end_matches('-')));
    }
}

fn download(dest: &Path, files: &[(&str, &str)]) -> Result<(), DynError> {
    let staging = dest.join(format!(".fetch-data-partial-{}", std::process::id()));
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let result = download_into(&staging, dest, files);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn download_into(staging: &Path, dest: &Path, files: &[(&str, &str)]) -> Result<(), DynError> {
    let jobs: Vec<(String, PathBuf)> = files
        .iter()
        .map(|&(rel, _)| {
            let url = url_of(rel).ok_or_else(|| format!("no source for {rel}"))?;
            Ok((url, staging.join(rel)))
        })
        .collect::<Result<_, DynError>>()?;
    for (_, path) in &jobs {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    println!("downloading {} files ...", jobs.len());
    // One file first, without retries, so that a machine without network hears so at once.
    let (probe, rest) = jobs.split_at(1);
    fetch_all(probe, false)?;
    if !rest.is_empty() {
        fetch_all(rest, true)?;
    }
    let mut bad = Vec::new();
    for (&(rel, sum), (url, path)) in files.iter().zip(&jobs) {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let got = sha256_hex(&bytes);
        if got != sum {
            bad.push(format!("{url}: sha256 {got}, expected {sum}"));
            continue;
        }
        place(&dest.join(rel), &bytes)?;
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{} downloads did not verify:\n  {}", bad.len(), bad.join("\n  ")).into())
    }
}

const OFFLINE_HINT: &str = "is the network reachable? Without it, copy the data from a machine \
that has it and run `cargo xtask fetch-data --from DIR`";

/// Downloads every (url, path) pair, with curl when there is one, else python3.
fn fetch_all(jobs: &[(String, PathBuf)], retry: bool) -> Result<(), DynError> {
    let mut curl = Command::new("curl");
    curl.args(["--fail", "--silent", "--show-error", "--location", "--connect-timeout", "20"]);
    curl.args(["--max-time", "600"]);
    if retry {
        curl.args(["--retry", "2"]);
    }
    for (url, path) in jobs {
        curl.arg("-o").arg(path).arg(url);
    }
    match curl.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let code = out.status.code().unwrap_or(-1);
            let what = match code {
                5 | 6 => "could not resolve the host",
                7 => "could not connect",
                28 => "timed out",
                22 => "the server refused a file",
                35 | 60 => "the TLS handshake failed",
                _ => "failed",
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            let detail = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            Err(format!("download {what} (curl exit status {code}: {detail}); {OFFLINE_HINT}")
                .into())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fetch_with_python(jobs),
        Err(e) => Err(format!("running curl: {e}").into()),
    }
}

fn fetch_with_python(jobs: &[(String, PathBuf)]) -> Result<(), DynError> {
    const SCRIPT: &str = "import sys, urllib.request
args = sys.argv[1:]
for url, path in zip(args[0::2], args[1::2]):
    try:
        with urllib.request.urlopen(url, timeout=30) as r, open(path, 'wb') as f:
            f.write(r.read())
    except Exception as e:
        sys.exit(f'{url}: {e}')
";
    let mut py = Command::new("python3");
    py.arg("-c").arg(SCRIPT);
    for (url, path) in jobs {
        py.arg(url).arg(path);
    }
    let out = py.output().map_err(|e| format!("neither curl nor python3 could run ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!("download failed: {}; {OFFLINE_HINT}", stderr.trim()).into())
    }
}

fn sha256_file(path: &Path) -> Result<String, DynError> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(sha256_hex(&bytes))
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The lower-case hex sha256 of `data` (FIPS 180-4).
pub fn sha256_hex(data: &[u8]) -> String {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut tail = data.chunks_exact(64).remainder().to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in data.chunks_exact(64).chain(tail.chunks_exact(64)) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_data() -> PathBuf {
        let root = match std::env::var_os("JOULEBENCH_DATA").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/datasets")),
        };
        assert!(root.is_dir(), "no data at {} (set JOULEBENCH_DATA)", root.display());
        root
    }

    fn temp_dir(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir()
            .join(format!("joulebench-fetch-data-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn args(items: &[&Path]) -> Vec<String> {
        let flags = ["--from", "--to"];
        flags
            .iter()
            .zip(items)
            .flat_map(|(f, p)| [f.to_string(), p.display().to_string()])
            .collect()
    }

    #[test]
    fn sha256_test_vectors() {
        // FIPS 180-4 examples.
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            sha256_hex(&vec![b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn the_table_covers_the_data_sets() {
        // The MMLU release has 57 subjects x 3 splits; HellaSwag is one file, Winogrande two.
        assert_eq!(expected().len(), 174);
        assert_eq!(expected().iter().filter(|(p, _)| p.starts_with("mmlu/test/")).count(), 57);
        assert!(expected().contains(&(
            "hellaswag/hellaswag_val_full.txt",
            "d572539320eb2050e858ca34b495bbe2103e3b3f1391a9c3bcdf215b0bb93bd1"
        )));
        assert_eq!(
            url_of("mmlu/dev/anatomy_dev.csv").unwrap(),
            format!("{MMLU_BASE}mmlu/dev/anatomy_dev.csv")
        );
        assert!(url_of("winogrande/dev-labels.lst").unwrap().ends_with("/data/dev-labels.lst"));
    }

    #[test]
    fn import_from_a_local_folder() {
        let src = shared_data();
        let dest = temp_dir("import");
        run(&args(&[&src, &dest])).unwrap();
        for (rel, _) in expected() {
            assert!(dest.join(rel).is_file(), "{rel} missing");
        }
        assert_eq!(
            std::fs::read(dest.join("winogrande/dev-labels.lst")).unwrap(),
            std::fs::read(src.join("winogrande/dev-labels.lst")).unwrap()
        );
        // A second run finds everything in place; a damaged file is replaced.
        std::fs::write(dest.join("winogrande/dev-labels.lst"), "1\n").unwrap();
        assert_eq!(
            missing_files(&dest).unwrap(),
            [(
                "winogrande/dev-labels.lst",
                "5ae1e30f52a50b880515685dcfae7d57649cce256d375947cdd02f687de7e6ba"
            )]
        );
        run(&args(&[&src, &dest])).unwrap();
        assert!(missing_files(&dest).unwrap().is_empty());
        std::fs::remove_dir_all(&dest).unwrap();
    }

    #[test]
    fn a_bad_source_is_named() {
        let src = temp_dir("bad-src");
        let dest = temp_dir("bad-dest");
        std::fs::create_dir_all(src.join("hellaswag")).unwrap();
        std::fs::write(src.join("hellaswag/hellaswag_val_full.txt"), "not it\n").unwrap();
        let e = run(&args(&[&src, &dest])).unwrap_err().to_string();
        assert!(e.starts_with("174 of 174 files could not be imported:"), "{e}");
        assert!(
            e.contains(&format!(
                "{}: sha256 {}, expected d572539320eb2050e858ca34b495bbe2103e3b3f1391a9c3bcdf215b0bb93bd1",
                src.join("hellaswag/hellaswag_val_full.txt").display(),
                sha256_hex(b"not it\n")
            )),
            "{e}"
        );
        assert!(e.contains(&format!("{}: ", src.join("winogrande/dev.jsonl").display())), "{e}");
        let e = run(&args(&[&src.join("nowhere"), &dest])).unwrap_err().to_string();
        assert!(e.ends_with("nowhere: not a folder"), "{e}");
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::remove_dir_all(&dest).unwrap();
    }

    #[test]
    fn bad_arguments() {
        assert!(run(&["--frm".into()]).unwrap_err().to_string().starts_with("unknown argument"));
        assert_eq!(run(&["--from".into()]).unwrap_err().to_string(), "--from needs a folder");
    }
}
